"""Retention: text older than the limit goes while ingest runs beside the purge, every usage report stays
identical, a second run purges nothing, and request detail says `textPurged`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select

from shared.jobs.retention_purge import purge_expired
from shared.store.schema import call_payloads
from tests.builders import capture_event
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest

NOW = datetime.now(UTC).replace(microsecond=0)


def test_old_text_goes_numbers_and_reports_stay_with_ingest_running(any_store):
    context = make_context(any_store)
    ingest(
        context,
        *(capture_event(call_id=f"old-{i}", time=(NOW - timedelta(days=100, hours=i)).isoformat()) for i in range(7)),
        *(capture_event(call_id=f"new-{i}", time=(NOW - timedelta(days=5, hours=i)).isoformat()) for i in range(3)),
    )
    query = {
        "groupBy": "user,model",
        "from": (NOW - timedelta(days=200)).isoformat(),
        "to": (NOW - timedelta(days=1)).isoformat(),
    }  # the live calls land after it
    before = call(context, "usage", query=query).body

    fresh = [capture_event(call_id=f"live-{i}", time=(NOW - timedelta(minutes=i)).isoformat()) for i in range(20)]
    writer = threading.Thread(target=lambda: [ingest(context, event) for event in fresh])
    writer.start()
    first = purge_expired(any_store, text_days=90, deadletter_days=30, now=NOW, batch=2)  # 4 batches of text
    writer.join()
    assert first.calls == 7 and first.batches >= 4
    assert purge_expired(any_store, text_days=90, deadletter_days=30, now=NOW).calls == 0  # safe to run twice

    with any_store.read() as conn:
        kept = conn.execute(
            select(func.count()).select_from(call_payloads).where(call_payloads.c.prompt_text.is_not(None))
        ).scalar_one()
    assert kept == 3 + 20
    assert call(context, "usage", query=query).body == before
    detail = orjson.loads(call(context, "request_detail", route={"id": "old-0"}).body)
    assert detail["textPurged"] is True and detail["promptText"] is None and detail["totalTokens"] == 73
    assert orjson.loads(call(context, "request_detail", route={"id": "new-0"}).body)["textPurged"] is False


def test_zero_days_keeps_text_forever(any_store):
    context = make_context(any_store)
    ingest(context, capture_event(call_id="ancient", time="2020-01-01T00:00:00Z"))
    assert purge_expired(any_store, text_days=0, deadletter_days=0, now=NOW).calls == 0
