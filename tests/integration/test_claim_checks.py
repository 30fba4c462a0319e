"""Claim checks against a real Blob service (Azurite): the body present, late, and never there."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from shared.ingest.claims import ClaimCheck
from shared.ingest.types import IncomingEvent
from shared.jobs.pending_sweep import sweep_pending
from shared.store.schema import call_payloads, calls, pending_parts
from tests.azurite import put_blob
from tests.builders import CHAT_REQUEST, capture_event, chat_response
from tests.conftest import make_context


class FakeTime:
    """Injected clock and sleep: the retry loop runs its whole budget without sleeping for real."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def claim_event(call_id: str, *, response_ref: bool = True, request_ref: bool = False) -> dict:
    event = capture_event(call_id=call_id)
    if response_ref:
        event["response"]["body"], event["response"]["bodyRef"] = None, f"bodies/{call_id}/response.json"
    if request_ref:
        event["request"]["body"], event["request"]["bodyRef"] = None, f"bodies/{call_id}/request.json"
    return event


def claim_context(store, conn_str: str, fake: FakeTime, **settings):
    context = make_context(store, LEDGER_BODY_STORAGE_CONNECTION_STRING=conn_str, **settings)
    check: ClaimCheck = context.ingestor.claims.check
    check.sleep, check.monotonic = fake.sleep, fake.monotonic
    return context


def _row(store, call_id):
    with store.read() as conn:
        row = conn.execute(select(calls).where(calls.c.call_id == call_id)).mappings().one_or_none()
        payload = conn.execute(select(call_payloads).where(call_payloads.c.call_id == call_id)).mappings().one_or_none()
        waiting = conn.execute(select(pending_parts.c.kind).where(pending_parts.c.part_key == call_id)).scalars().all()
    return row, payload, waiting


def test_a_present_blob_is_fetched_and_the_call_recorded_with_its_body(store, azurite):
    big_answer = "Economy class for flights under six hours. " * 6000  # ~260 KB: why it was claim-checked
    put_blob(
        azurite,
        "bodies/present-1/response.json",
        orjson.dumps(chat_response(text=big_answer, prompt=31, completion=4242)),
    )
    fake = FakeTime()
    context = claim_context(store, azurite, fake)
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("present-1")))])
    assert (report.recorded, report.pending) == (1, 0)
    row, payload, waiting = _row(store, "present-1")
    assert (row["completion_tokens"], row["tokens_estimated"], row["body_missing"]) == (4242, False, False)
    assert payload["completion_text"] == big_answer and not waiting
    assert fake.sleeps == []  # found on the first try


def test_a_blob_that_lands_during_the_batch_budget_is_picked_up_by_a_retry(store, azurite):
    late = orjson.dumps(chat_response(prompt=31, completion=42))
    fake = FakeTime(on_sleep=lambda n: put_blob(azurite, "bodies/late-1/response.json", late) if n == 2 else None)
    context = claim_context(store, azurite, fake)
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("late-1")))])
    assert report.recorded == 1
    row, _, _ = _row(store, "late-1")
    assert (row["total_tokens"], row["body_missing"]) == (73, False)
    assert len(fake.sleeps) == 2 and fake.sleeps[1] > fake.sleeps[0]  # backoff


def test_a_blob_later_than_the_batch_waits_and_the_sweep_records_it(store, azurite):
    fake = FakeTime()
    context = claim_context(store, azurite, fake)
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("later-1", request_ref=True)))])
    assert (report.recorded, report.pending) == (0, 1)
    assert sum(fake.sleeps) <= context.ingestor.claims.check.budget_seconds  # the batch is never stalled longer
    assert _row(store, "later-1")[2] == ["claim"]
    put_blob(azurite, "bodies/later-1/request.json", orjson.dumps(CHAT_REQUEST))
    put_blob(azurite, "bodies/later-1/response.json", orjson.dumps(chat_response()))
    assert sweep_pending(context) == {"recorded": 1, "merged": 0}
    row, payload, waiting = _row(store, "later-1")
    assert (row["total_tokens"], row["body_missing"]) == (73, False)
    assert "travel policy" in payload["prompt_text"] and not waiting
    assert sweep_pending(context) == {"recorded": 0, "merged": 0}


def test_a_blob_that_never_comes_is_recorded_without_it_flagged_after_the_wait(store, azurite):
    fake = FakeTime()
    context = claim_context(store, azurite, fake, LEDGER_BODY_WAIT_SECONDS="0")
    context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("never-1")))])
    assert _row(store, "never-1")[0] is None
    assert sweep_pending(context) == {"recorded": 1, "merged": 0}
    row, payload, waiting = _row(store, "never-1")
    assert row["body_missing"] is True and row["status"] == 200
    # usage estimated from the text there is (the request), flagged
    assert row["tokens_estimated"] is True and row["prompt_tokens"] > 0 and row["completion_tokens"] == 0
    assert "travel policy" in payload["prompt_text"] and not waiting
    # redelivered later: still one call
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("never-1")))])
    assert sweep_pending(context) == {"recorded": 0, "merged": 0}
    with store.read() as conn:
        assert len(conn.execute(select(calls.c.call_id)).all()) == 1
    assert report.recorded == 0


def test_without_a_body_store_the_call_is_recorded_flagged_and_the_setting_named(store, caplog):
    context = make_context(store)
    assert context.ingestor.claims is None
    context.ingestor.ingest_batch([IncomingEvent(orjson.dumps(claim_event("nostore-1")))])
    row, _, waiting = _row(store, "nostore-1")
    assert row["body_missing"] is True and not waiting
    assert "LEDGER_BODY_STORAGE_URL" in caplog.text


def test_the_retry_budget_bounds_the_time_spent(store):
    class Never:
        calls = 0

        def fetch(self, ref):
            Never.calls += 1
            return None

    fake = FakeTime()
    check = ClaimCheck(Never(), budget_seconds=2.0, sleep=fake.sleep, monotonic=fake.monotonic)
    assert check.fetch_all(["a/1", "a/2"]) == {}
    assert sum(fake.sleeps) == pytest.approx(2.0) and Never.calls == 2 * (len(fake.sleeps) + 1)
    assert max(fake.sleeps) <= check.max_delay


def test_a_failing_store_costs_time_never_the_event(store):
    class Broken:
        def fetch(self, ref):
            raise ConnectionError("store unreachable")

    fake = FakeTime()
    check = ClaimCheck(Broken(), budget_seconds=0.5, sleep=fake.sleep, monotonic=fake.monotonic)
    assert check.fetch_all(["a/1"]) == {}
