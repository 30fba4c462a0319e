"""Events cut at log-to-eventhub's 200 KB: what precedes the cut is read, the call recorded flagged."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.ingest import tokens
from shared.ingest.formats.salvage import CaptureSalvager, close_json
from shared.ingest.types import IncomingEvent
from shared.store.schema import calls, dead_letters
from tests.builders import CHAT_REQUEST, capture_event, chat_response
from tests.conftest import make_context

LIMIT = 200 * 1024
BIG_REQUEST = dict(
    CHAT_REQUEST, messages=[*CHAT_REQUEST["messages"], {"role": "user", "content": "Contract clause. " * 15000}]
)


def _cut(event) -> bytes:
    raw = orjson.dumps(event)
    assert len(raw) > LIMIT
    return raw[:LIMIT]


def test_a_cut_request_body_keeps_identity_and_caller_and_estimates_the_prompt():
    record, _usage = CaptureSalvager().salvage(
        _cut(capture_event(call_id="cut-1", request=BIG_REQUEST)), "not valid JSON"
    )
    assert (record.call_id, record.user_id, record.ip, record.subscription_id) == (
        "cut-1",
        "oid-ana",
        "203.0.113.7",
        "sub-marketing",
    )
    assert (record.gateway, record.backend_id, record.deployment, record.api_version) == (
        "apim-contoso",
        "aoai-eastus2",
        "chat-prod",
        "2024-10-21",
    )
    assert record.truncated and record.tokens_estimated and record.prompt_tokens > 10_000
    assert record.prompt_text.startswith("You are a helpful assistant.")


def test_usage_that_precedes_the_cut_is_read_as_reported():
    response = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "usage": {"prompt_tokens": 31, "completion_tokens": 60000, "total_tokens": 60031},
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Long answer. " * 20000}}
        ],
    }
    record, _ = CaptureSalvager().salvage(_cut(capture_event(call_id="cut-2", response=response)), "x")
    assert (record.status, record.total_tokens, record.tokens_estimated, record.truncated) == (200, 60031, False, True)
    assert record.model == "gpt-4o-2024-08-06" and record.completion_text.startswith("Long answer.")
    assert record.region == "East US 2"  # response headers precede the body


def test_a_cut_stream_keeps_what_arrived_and_is_marked_incomplete():
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}],
    }
    stream = "".join("data: " + orjson.dumps(chunk).decode() + "\n\n" for _ in range(2000))
    event = capture_event(
        call_id="cut-3", request=dict(CHAT_REQUEST, stream=True), response=stream, content_type="text/event-stream"
    )
    record, _ = CaptureSalvager().salvage(_cut(event), "x")
    assert record.streamed and record.stream_incomplete and record.truncated
    assert record.completion_text.startswith("word word") and record.tokens_estimated and record.completion_tokens > 100


def test_bytes_that_are_not_a_capture_event_are_not_salvaged():
    salvager = CaptureSalvager()
    assert salvager.salvage(b"this is not json", "x") is None
    assert salvager.salvage(b'{"records": [{"time": "2026', "x") is None
    assert salvager.salvage(b'{"schema": "aoai-ledger/capture/v1", "id": "x"', "x") is None  # no time: not a call


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_cut_of_an_event_is_read_without_error(data):
    raw = orjson.dumps(
        capture_event(call_id="cut-p", response=chat_response(text='He said "hi" \\ \u00e9\u2603 \U0001f600'))
    )
    cut = data.draw(st.integers(1, len(raw)))
    doc = close_json(raw[:cut])
    assert doc is None or isinstance(doc, dict)
    result = CaptureSalvager().salvage(raw[:cut], "x")
    if result is not None:
        assert result[0].call_id == "cut-p" and result[0].truncated


def test_ingest_records_the_salvaged_call_and_keeps_the_bytes_for_audit(store):
    context = make_context(store)
    raw = _cut(capture_event(call_id="cut-4", request=BIG_REQUEST))
    report = context.ingestor.ingest_batch([IncomingEvent(raw, source="partition 0 seq 9")])
    assert report.recorded == 1
    with store.read() as conn:
        row = conn.execute(select(calls).where(calls.c.call_id == "cut-4")).mappings().one()
        letter = conn.execute(select(dead_letters)).mappings().one()
    assert row["truncated"] is True and row["tokens_estimated"] is True
    assert (letter["status"], letter["call_id"], letter["raw"]) == ("salvaged", "cut-4", raw)


# Shapes that once cost time or memory per bracket: 100 KB of "[" took three minutes and 5 GB.
HOSTILE_SHAPES = {
    "open brackets": b"[",
    "open objects": b'{"a":',
    "nested mixed": b'[{"a":[',
    "empty arrays": b"[],",
    "small arrays": b"[1],",
    "numbers": b"1,",
    "strings": b'"a",',
}


def _hostile_event(shape: bytes, size: int, *, inside_body: bool) -> bytes:
    """A capture event whose response is `shape` repeated to `size` bytes, cut there: as JSON structure, or
    inside the body string (the salvager closes the body's JSON too)."""
    head = orjson.dumps(capture_event(call_id="hostile"))
    head = head[: head.index(b'"response"')] + b'"response": {"status": 200, "body": '
    filler = shape * (size // len(shape))
    return head + (b'"' + filler.replace(b'"', b'\\"') if inside_body else b"[" + filler)


@pytest.mark.parametrize("inside_body", [False, True], ids=["structure", "body"])
@pytest.mark.parametrize("shape", HOSTILE_SHAPES.values(), ids=HOSTILE_SHAPES.keys())
def test_salvaging_a_hostile_cut_event_costs_time_in_proportion_to_its_size(shape, inside_body):
    # Linear work is ~0.1 s for 100 KB and ~1 s for 1 MB of the worst shape here. CPU time, not wall time, so
    # other processes on a busy machine do not count; the bounds still fail by orders of magnitude on anything
    # quadratic (the old code spent 18 s of CPU on 100 KB).
    tokens.preload()  # loading the vocabulary (~0.5 s, once per process) is not the salvage's cost
    for size, bound in ((100_000, 3.0), (1_000_000, 30.0)):
        raw = _hostile_event(shape, size, inside_body=inside_body)
        started = time.process_time()
        result = CaptureSalvager().salvage(raw, "not valid JSON")
        elapsed = time.process_time() - started
        assert elapsed < bound, f"{len(raw):,} bytes took {elapsed:.2f} s of CPU"
        assert result is not None and result[0].call_id == "hostile" and result[0].truncated


def test_a_document_nested_deeper_than_any_parser_reads_keeps_its_shallow_prefix():
    assert close_json(b'{"a": 1, "b": ' + b"[" * 100_000) == {"a": 1}
    assert close_json(b"[1, 2, tru, 3") == [1, 2]
    assert close_json(b"[[[1], [2") == [[[1], []]]
