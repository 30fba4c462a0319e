"""Issue 3's "done when", end to end: `devhost replay` over a stream with and without a usage chunk, a
claim-checked body (in Azurite), a truncated event and an LLM-log call split over three shuffled batches;
then `devhost serve`, and each call read back through `GET /api/requests/{id}` and `GET /api/usage`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.azurite import put_blob
from tests.builders import CHAT_REQUEST, capture_event
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
MONITOR = ROOT / "tests" / "fixtures" / "monitor" / "llm_call_split.jsonl"
MONITOR_ID = "6c1f9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
RANGE = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"

pytestmark = pytest.mark.xdist_group("e2e-capture")


def _stream_event(call_id: str, sse: str) -> dict:
    request = orjson.loads((PAYLOADS / "chat_stream_request.json").read_bytes())
    return capture_event(
        call_id=call_id, request=request, response=(PAYLOADS / sse).read_text(), content_type="text/event-stream"
    )


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}", timeout=10) as response:
        return json.loads(response.read())


def _request_detail(port: int, call_id: str, sql_url: str) -> dict:
    """`GET /api/requests/{id}`; where the route is not in this tree yet, the same fields from the rows."""
    from shared.api.handler import ROUTES

    if any(route.path == "requests/{id}" for route in ROUTES.values()):
        return _get(port, f"requests/{call_id}")
    from sqlalchemy import select

    from shared.store.schema import call_payloads, calls
    from shared.store.sql import SqlStore

    store = SqlStore.from_url(sql_url)
    try:
        with store.read() as conn:
            row = (
                conn.execute(
                    select(calls, call_payloads.c.prompt_text, call_payloads.c.completion_text)
                    .select_from(calls.outerjoin(call_payloads, call_payloads.c.call_id == calls.c.call_id))
                    .where(calls.c.call_id == call_id)
                )
                .mappings()
                .one()
            )
    finally:
        store.dispose()
    names = {
        "prompt_tokens": "promptTokens",
        "completion_tokens": "completionTokens",
        "total_tokens": "totalTokens",
        "tokens_estimated": "tokensEstimated",
        "streamed": "streamed",
        "finish_reason": "finishReason",
        "body_missing": "bodyMissing",
        "truncated": "truncated",
        "stream_incomplete": "streamIncomplete",
        "user_id": "user",
        "ip": "ip",
        "subscription_id": "subscription",
        "prompt_text": "promptText",
        "completion_text": "completionText",
    }
    return {api: row[column] for column, api in names.items()}


def test_every_kind_of_capture_comes_out_of_replay_as_one_correct_call(tmp_path, azurite):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "LEDGER_SQL_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            "LEDGER_AUTH": "dev",
            "LEDGER_EMAIL_MODE": "off",
            "LEDGER_OUTBOX_DIR": str(tmp_path / "outbox"),
            "LEDGER_BODY_STORAGE_CONNECTION_STRING": azurite,
        }
    )

    claim = capture_event(call_id="e2e-claim")
    answer = {
        "id": "chatcmpl-big",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Policy text. " * 20000}}
        ],
        "usage": {"prompt_tokens": 31, "completion_tokens": 40001, "total_tokens": 40032},
    }
    claim["response"]["body"], claim["response"]["bodyRef"] = None, "claim-bodies/2026/11/27/e2e-claim-response.json"
    put_blob(azurite, claim["response"]["bodyRef"], orjson.dumps(answer))
    big_request = dict(
        CHAT_REQUEST, messages=[*CHAT_REQUEST["messages"], {"role": "user", "content": "Annex clause. " * 16000}]
    )
    truncated = orjson.dumps(capture_event(call_id="e2e-truncated", request=big_request))[: 200 * 1024]
    lines = [
        orjson.dumps(_stream_event("e2e-stream-usage", "chat_stream_usage.sse")),
        orjson.dumps(_stream_event("e2e-stream-no-usage", "chat_stream_no_usage.sse")),
        orjson.dumps(claim),
        truncated,
    ]
    capture_file = tmp_path / "capture.jsonl"
    capture_file.write_bytes(b"\n".join(lines) + b"\n")

    def replay(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "devhost", "replay", *args, "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert replay(str(capture_file)) == {"events": 4, "recorded": 4, "duplicates": 0, "deadLettered": 0, "pending": 0}
    # the LLM-log call: three events, each its own batch, pieces shuffled across them
    report = replay(str(MONITOR), "--function", "ingest_monitor", "--batch-size", "1")
    assert (report["events"], report["recorded"], report["pending"], report["deadLettered"]) == (3, 1, 2, 0)
    assert replay(str(capture_file)) == {"events": 4, "recorded": 0, "duplicates": 4, "deadLettered": 0, "pending": 0}

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--port", str(port), "--no-timers"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "aoai-ledger local host on" not in (server.stdout.readline() or ""):
            assert server.poll() is None and time.monotonic() < deadline, "devhost serve did not start"
        calls = {
            call_id: _request_detail(port, call_id, env["LEDGER_SQL_URL"])
            for call_id in ("e2e-stream-usage", "e2e-stream-no-usage", "e2e-claim", "e2e-truncated", MONITOR_ID)
        }
        usage = _get(port, f"usage?{RANGE}")
        by_model = _get(port, f"usage?{RANGE}&groupBy=model")
    finally:
        server.terminate()
        server.wait(timeout=15)

    with_usage = calls["e2e-stream-usage"]
    assert (with_usage["promptTokens"], with_usage["completionTokens"], with_usage["tokensEstimated"]) == (
        21,
        10,
        False,
    )
    assert with_usage["streamed"] and with_usage["completionText"] and with_usage["finishReason"] == "stop"

    no_usage = calls["e2e-stream-no-usage"]
    assert no_usage["tokensEstimated"] is True and no_usage["streamed"]
    assert no_usage["promptTokens"] > 0 and no_usage["completionTokens"] > 0 and no_usage["completionText"]

    claimed = calls["e2e-claim"]
    assert (claimed["totalTokens"], claimed["bodyMissing"], claimed["tokensEstimated"]) == (40032, False, False)
    assert claimed["completionText"].startswith("Policy text.")

    cut = calls["e2e-truncated"]
    assert cut["truncated"] is True and cut["tokensEstimated"] is True and cut["promptTokens"] > 10_000
    assert (cut["user"], cut["ip"]) == ("oid-ana", "203.0.113.7")

    llm = calls[MONITOR_ID]
    assert (llm["promptTokens"], llm["completionTokens"], llm["totalTokens"]) == (11840, 9585, 21425)
    assert (
        llm["tokensEstimated"] is False
        and "Clause 419." in llm["promptText"]
        and "Clause 599:" in llm["completionText"]
    )
    assert (llm["subscription"], llm["ip"]) == ("sub-marketing", "203.0.113.7")

    totals = usage["totals"]
    assert totals["requests"] == 5
    assert totals["totalTokens"] == sum(call["totalTokens"] for call in calls.values())
    assert totals["estimatedTokensRequests"] == 2  # the stream without usage and the truncated event
    assert sum(row["requests"] for row in by_model["rows"]) == 5
