"""Azure Monitor diagnostic export through the ingest engine: joins across batches, late pieces, merges."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.ingest.payloads.request import messages_text
from shared.ingest.types import IncomingEvent
from shared.jobs.pending_sweep import sweep_pending
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts, usage_hourly
from shared.store.sql import SqlStore
from tests.builders import CHAT_REQUEST, capture_event, chat_stream_without_usage
from tests.conftest import make_context
from tests.monitor_builders import gateway_record, llm_records

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "monitor" / "llm_call_split.jsonl"
FIXTURE_ID = "6c1f9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
MESSAGES = CHAT_REQUEST["messages"]
LONG_MESSAGES = [
    MESSAGES[0],
    {"role": "user", "content": "Review this contract. " + "Clause text with obligations. " * 2500},
]
LONG_COMPLETION = "The contract obliges the supplier to care and confidentiality. " * 1200


def _batch(*records) -> list[IncomingEvent]:
    return [IncomingEvent(body=orjson.dumps({"records": list(records)}))]


def _call(store, call_id):
    with store.read() as conn:
        row = conn.execute(select(calls).where(calls.c.call_id == call_id)).mappings().one_or_none()
        payload = conn.execute(select(call_payloads).where(call_payloads.c.call_id == call_id)).mappings().one_or_none()
        requests = conn.execute(select(func.sum(usage_hourly.c.requests), func.sum(usage_hourly.c.total_tokens))).one()
    return row, payload, tuple(requests)


def test_the_fixture_call_split_over_three_shuffled_batches_is_recorded_once_complete(store):
    context = make_context(store)
    reports = [context.ingestor.ingest_batch([IncomingEvent(line)]) for line in FIXTURE.read_bytes().splitlines()]
    assert [r.recorded for r in reports] == [0, 0, 1]
    assert reports[1].dead_lettered == 0  # the WebSocketConnectionLogs record is ignored, not dead-lettered
    row, payload, rollup = _call(store, FIXTURE_ID)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (11840, 9585, 21425)
    assert row["tokens_estimated"] is False and row["streamed"] is True and row["source"] == "azure-monitor"
    assert (row["ip"], row["subscription_id"], row["product_id"], row["status"]) == (
        "203.0.113.7",
        "sub-marketing",
        "gold",
        200,
    )
    assert (row["model"], row["deployment"], row["operation"], row["gateway"]) == (
        "gpt-4o-2024-08-06",
        "chat-prod",
        "chat.completions",
        "apim-contoso",
    )
    assert (
        payload["prompt_text"].startswith("You are the contracts assistant") and "Clause 419." in payload["prompt_text"]
    )
    assert (
        payload["completion_text"]
        .rstrip()
        .endswith("Clause 599: delivery with due care; confidentiality of customer data.")
    )
    assert rollup == (1, 21425)


def test_other_categories_are_ignored_and_unreadable_records_dead_lettered_with_their_own_json(store):
    context = make_context(store)
    other = {"time": "2026-11-27T09:00:00Z", "category": "WebSocketConnectionLogs", "properties": {}}
    orphan = gateway_record("x")
    del orphan["correlationId"]
    report = context.ingestor.ingest_batch(_batch(other) + _batch(orphan))
    assert report.as_json() == {
        "events": 2,
        "recorded": 0,
        "duplicates": 0,
        "deadLettered": 1,
        "pending": 0,
        "ignored": 1,
    }
    with store.read() as conn:
        letter = conn.execute(select(dead_letters)).mappings().one()
    assert orjson.loads(letter["raw"]) == orphan and "correlationId" in letter["reason"]


def test_a_late_response_piece_completes_the_recorded_call_without_counting_it_twice(store):
    context = make_context(store)
    records = [
        gateway_record("late-1"),
        *llm_records("late-1", MESSAGES, LONG_COMPLETION, prompt_tokens=31, completion_tokens=9000),
    ]
    *early, last = records
    context.ingestor.ingest_batch(_batch(*early[:-1]))  # gateway, header, request: complete as far as can be told
    row, payload, rollup = _call(store, "late-1")
    assert row is None or payload["completion_text"] is None or len(payload["completion_text"]) < len(LONG_COMPLETION)
    context.ingestor.ingest_batch(_batch(early[-1]))
    context.ingestor.ingest_batch(_batch(last))
    row, payload, rollup = _call(store, "late-1")
    assert payload["completion_text"] == LONG_COMPLETION and row["total_tokens"] == 9031
    assert rollup == (1, 9031)
    # the sweep after the window records nothing new and drops the kept pieces; a redelivery stays a duplicate
    swept = make_context(store, LEDGER_MONITOR_JOIN_SECONDS="0")
    assert sweep_pending(swept) == {"recorded": 0, "merged": 0}
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(pending_parts)).scalar_one() == 0
    swept.ingestor.ingest_batch(_batch(*records))
    sweep_pending(swept)
    assert _call(store, "late-1")[2] == (1, 9031)


def test_the_sweep_records_an_incomplete_call_after_the_join_window(store):
    context = make_context(store, LEDGER_MONITOR_JOIN_SECONDS="0")
    header = llm_records("lonely-1", MESSAGES, "Short answer.", prompt_tokens=31, completion_tokens=3)[0]
    context.ingestor.ingest_batch(_batch(header))  # no gateway record: waits
    assert _call(store, "lonely-1")[0] is None
    assert sweep_pending(context) == {"recorded": 1, "merged": 0}
    row, _, _rollup = _call(store, "lonely-1")
    assert (row["total_tokens"], row["status"], row["ip"]) == (34, 200, None)


def test_capture_and_llm_log_of_the_same_call_merge_into_one(store):
    """The capture gives bodies and caller; the LLM log gives the counts of a stream without a usage chunk."""
    context = make_context(store)
    stream = chat_stream_without_usage("Short answer.")
    request = dict(CHAT_REQUEST, stream=True)
    event = capture_event(call_id="both-1", request=request, response=stream, content_type="text/event-stream")
    context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(event))])
    row, _, _ = _call(store, "both-1")
    assert row["tokens_estimated"] is True
    records = [
        gateway_record("both-1"),
        *llm_records("both-1", MESSAGES, "Short answer.", prompt_tokens=31, completion_tokens=3),
    ]
    context.ingestor.ingest_batch(_batch(*records))
    row, payload, rollup = _call(store, "both-1")
    assert (row["prompt_tokens"], row["completion_tokens"], row["tokens_estimated"]) == (31, 3, False)
    assert row["user_id"] == "oid-ana" and row["source"] == "azure-monitor+capture/v1"
    assert payload["response_body"].startswith("data: ")
    assert rollup == (1, 34)


def _expected():
    return {
        "tokens": (31 * 100, 9000, 31 * 100 + 9000),
        "prompt": messages_text(LONG_MESSAGES),
        "completion": LONG_COMPLETION,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_any_batch_boundaries_give_the_same_call_counted_once(data):
    records = [
        gateway_record("prop-1"),
        *llm_records("prop-1", LONG_MESSAGES, LONG_COMPLETION, prompt_tokens=3100, completion_tokens=9000),
    ]
    order = data.draw(st.permutations(records))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(order) - 1), max_size=len(order) - 1)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    redeliver = data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.from_url(f"sqlite:///{tmp}/ledger.db")
        try:
            context = make_context(store)
            for batch in batches:
                # one event per record or all in one event: both are how diagnostic settings batch records
                context.ingestor.ingest_batch([IncomingEvent(orjson.dumps({"records": [r]})) for r in batch])
            if redeliver:
                context.ingestor.ingest_batch(_batch(*order[: len(order) // 2]))
            sweep_pending(make_context(store, LEDGER_MONITOR_JOIN_SECONDS="0"))
            row, payload, rollup = _call(store, "prop-1")
            expected = _expected()
            assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == expected["tokens"]
            assert payload["prompt_text"] == expected["prompt"]
            assert payload["completion_text"] == expected["completion"]
            assert rollup == (1, expected["tokens"][2])
        finally:
            store.dispose()
