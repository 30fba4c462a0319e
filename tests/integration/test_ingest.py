"""Ingest into a real SQLite file (and, through `any_store`, a real PostgreSQL server)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import func, select

from shared.ingest.types import IncomingEvent
from shared.reports.usage import UsageQuery, query_usage
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts, usage_hourly
from tests.builders import capture_event, chat_response, encode
from tests.conftest import make_context


def _events(*docs) -> list[IncomingEvent]:
    return [
        IncomingEvent(body=doc if isinstance(doc, bytes) else encode(doc), source=f"test:{i}")
        for i, doc in enumerate(docs)
    ]


def _count(store, table) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_capture_event_becomes_one_priced_call(context):
    report = context.ingestor.ingest_batch(_events(capture_event(call_id="call-1", response=chat_response(cached=10))))
    assert report.as_json() == {"events": 1, "recorded": 1, "duplicates": 0, "deadLettered": 0, "pending": 0}
    with context.store.read() as conn:
        row = conn.execute(select(calls).where(calls.c.call_id == "call-1")).mappings().one()
        payload = conn.execute(select(call_payloads)).mappings().one()
    assert row["model"] == "gpt-4o-2024-08-06"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"], row["cached_tokens"]) == (
        31,
        42,
        73,
        10,
    )
    assert row["operation"] == "chat.completions" and row["status"] == 200
    assert row["cost_usd"] is not None and row["cost_usd"] > 0
    assert "travel policy" in payload["prompt_text"]
    assert payload["completion_text"].startswith("Book economy")


def test_replaying_a_batch_records_nothing_the_second_time(context):
    batch = _events(*(capture_event(call_id=f"call-{i}") for i in range(5)))
    first = context.ingestor.ingest_batch(batch)
    second = context.ingestor.ingest_batch(batch)
    assert first.recorded == 5
    assert second.as_json() == {"events": 5, "recorded": 0, "duplicates": 5, "deadLettered": 0, "pending": 0}
    with context.store.read() as conn:
        hourly = conn.execute(select(func.sum(usage_hourly.c.requests), func.sum(usage_hourly.c.total_tokens))).one()
    assert tuple(hourly) == (5, 5 * 73)


def test_the_same_call_twice_in_one_batch_counts_once(context):
    event = capture_event(call_id="dup")
    report = context.ingestor.ingest_batch(_events(event, event))
    assert (report.recorded, report.duplicates) == (1, 1)
    assert _count(context.store, calls) == 1


def test_garbage_is_dead_lettered_with_its_bytes_and_a_reason_without_failing_the_batch(context):
    garbage = b"this is not json at all"
    report = context.ingestor.ingest_batch(_events(capture_event(call_id="good"), garbage, {"hello": "world"}, [1, 2]))
    assert (report.recorded, report.dead_lettered) == (1, 3)
    with context.store.read() as conn:
        letters = conn.execute(select(dead_letters).order_by(dead_letters.c.id)).mappings().all()
    assert letters[0]["raw"] == garbage
    assert "not valid JSON" in letters[0]["reason"]
    assert "not an event this ledger reads" in letters[1]["reason"]
    assert letters[0]["source"] == "test:1"


def test_capture_event_without_required_fields_is_dead_lettered_naming_them(context):
    event = capture_event(call_id="x")
    del event["time"]
    context.ingestor.ingest_batch(_events(event))
    with context.store.read() as conn:
        reason = conn.execute(select(dead_letters.c.reason)).scalar_one()
    assert "time" in reason and "required" in reason


def test_replayed_garbage_is_kept_once(context):
    context.ingestor.ingest_batch(_events(b"{broken"))
    context.ingestor.ingest_batch(_events(b"{broken"))
    assert _count(context.store, dead_letters) == 1


def test_numbers_as_strings_and_any_case_operation_ids_are_read(context):
    response = chat_response()
    response["usage"] = {"prompt_tokens": "12", "completion_tokens": "8", "total_tokens": "20"}
    event = capture_event(call_id="strings", operation="chatcompletions_create", total_ms="640.5", response=response)
    event["response"]["status"] = "200"
    event["response"]["headers"] = {"X-MS-Region": "Sweden Central"}
    context.ingestor.ingest_batch(_events(event))
    with context.store.read() as conn:
        row = conn.execute(select(calls)).mappings().one()
    assert (row["total_tokens"], row["status"], row["duration_ms"]) == (20, 200, 640.5)
    assert row["operation"] == "chat.completions" and row["region"] == "Sweden Central"


def test_unknown_model_is_recorded_with_cost_null_not_zero(context):
    event = capture_event(call_id="mystery", response=chat_response(model="contoso-private-llm-7"))
    context.ingestor.ingest_batch(_events(event))
    with context.store.read() as conn:
        assert conn.execute(select(calls.c.cost_usd)).scalar_one() is None
        result = query_usage(conn, UsageQuery(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)))
    assert result.totals["costUsd"] is None and result.totals["unpricedRequests"] == 1


def test_a_refused_call_without_tokens_costs_zero_in_the_usage_report(context):
    from tests.integration.test_usage_api import call

    refused = [  # an unknown deployment (no model to price), a bad key, a throttled call: nothing used, nothing billed
        capture_event(
            call_id="not-found",
            status=404,
            deployment="no-such-deployment",
            request={"messages": []},
            response={"error": {"code": "DeploymentNotFound", "message": "The API deployment does not exist."}},
        ),
        capture_event(
            call_id="denied", status=401, request=False, response={"statusCode": 401, "message": "Access denied"}
        ),
        capture_event(
            call_id="throttled", status=429, response={"error": {"code": "429", "message": "Rate limit is exceeded."}}
        ),
    ]
    context.ingestor.ingest_batch(_events(capture_event(call_id="answered"), *refused))
    response = call(
        context, "usage", {"from": "2026-11-27T00:00:00Z", "to": "2026-11-28T00:00:00Z", "groupBy": "status"}
    )
    body = orjson.loads(response.body)
    by_status = {row["status"]: row for row in body["rows"]}
    assert {status: by_status[status]["costUsd"] for status in (401, 404, 429)} == {401: 0.0, 404: 0.0, 429: 0.0}
    assert body["totals"]["unpricedRequests"] == 0 and body["totals"]["failedRequests"] == 3
    assert body["totals"]["costUsd"] == by_status[200]["costUsd"] > 0


def test_store_failure_fails_the_batch_and_the_retry_counts_once(store):
    context = make_context(store)
    batch = _events(*(capture_event(call_id=f"retry-{i}") for i in range(3)))
    with context.store.engine.begin() as conn:  # the store failing, not the data: an OperationalError on every insert
        conn.exec_driver_sql(
            "CREATE TRIGGER break_inserts BEFORE INSERT ON calls BEGIN INSERT INTO store_offline VALUES (1); END"
        )
    with pytest.raises(Exception, match="store_offline"):
        context.ingestor.ingest_batch(batch)
    assert _count(context.store, calls) == 0 and _count(context.store, usage_hourly) == 0
    with context.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER break_inserts")
    assert context.ingestor.ingest_batch(batch).recorded == 3
    assert context.ingestor.ingest_batch(batch).duplicates == 3
    assert _count(context.store, calls) == 3


LEGACY_REQUEST = {
    "event-type": "Request",
    "event-time": "11/27/2026 9:00:00 AM",
    "backend": "contoso-eastus2.openai.azure.com",
    "message-id": "5d2f0c8e-0c55-4a34-9f1e-6f4f0a0b1c2d",
    "operation": "ChatCompletions_Create",
    "model": "gpt-4o",
    "prompt": "",
    "messages": '[{"role": "user", "content": "Hello from the enterprise sample"}]',
}
LEGACY_RESPONSE = {
    "event-type": "Response",
    "event-time": "11/27/2026 9:00:02 AM",
    "backend": "contoso-eastus2.openai.azure.com",
    "message-id": "5d2f0c8e-0c55-4a34-9f1e-6f4f0a0b1c2d",
    "choices": '[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi there"}}]',
    "operation": "ChatCompletions_Create",
    "apiId": "azure-openai",
    "productId": "starter",
    "model": "gpt-4o-2024-08-06",
    "modeltime": "1503",
    "completion_tokens": "3",
    "prompt_tokens": "14",
    "total_tokens": "17",
}


@pytest.mark.parametrize("first,second", [(LEGACY_REQUEST, LEGACY_RESPONSE), (LEGACY_RESPONSE, LEGACY_REQUEST)])
def test_legacy_pair_joins_across_batches_in_either_order(context, first, second):
    one = context.ingestor.ingest_batch(_events(first))
    assert one.as_json()["pending"] == 1 and _count(context.store, pending_parts) == 1
    two = context.ingestor.ingest_batch(_events(second))
    assert two.recorded == 1 and _count(context.store, pending_parts) == 0
    with context.store.read() as conn:
        row = conn.execute(select(calls)).mappings().one()
    assert row["call_id"] == LEGACY_REQUEST["message-id"]
    assert (row["model"], row["total_tokens"], row["backend_ms"]) == ("gpt-4o-2024-08-06", 17, 1503.0)
    assert row["time"] == datetime(2026, 11, 27, 9, 0, 0) and row["duration_ms"] == 2000.0
    again = context.ingestor.ingest_batch(_events(second))  # a half delivered again adds nothing
    assert again.duplicates == 1 and _count(context.store, pending_parts) == 0
    assert _count(context.store, calls) == 1


def test_legacy_request_without_response_is_recorded_as_failed_after_the_join_window(store):
    context = make_context(store, LEDGER_MONITOR_JOIN_SECONDS="0")
    context.ingestor.ingest_batch(_events(LEGACY_REQUEST))
    report = context.ingestor.sweep_stale({"legacy": -1})
    assert report.calls_recorded == 1
    with store.read() as conn:
        row = conn.execute(select(calls)).mappings().one()
    assert row["status"] == 0 and row["tokens_estimated"]  # prompt text captured: estimated, never 0
    assert _count(store, pending_parts) == 0


def test_rollups_match_a_raw_scan_for_any_range(context):
    docs = []
    for day in range(1, 4):
        for hour in (0, 7, 13, 23):
            for minute in (5, 40):
                docs.append(
                    capture_event(
                        time=f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z",
                        user_id=f"user-{hour % 3}",
                        ip=f"203.0.113.{minute}",
                    )
                )
    context.ingestor.ingest_batch(_events(*docs))
    start = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    end = datetime(2026, 11, 3, 13, 20, tzinfo=UTC)
    with context.store.read() as conn:
        fast = query_usage(conn, UsageQuery(start, end, ("user", "ip")))
        slow = _raw_scan(conn, start, end)
    assert fast.totals["requests"] == slow["requests"] and fast.totals["totalTokens"] == slow["tokens"]
    assert sum(r["requests"] for r in fast.rows) == slow["requests"]


def _raw_scan(conn, start, end):
    row = conn.execute(
        select(func.count(), func.sum(calls.c.total_tokens)).where(
            calls.c.time >= start.replace(tzinfo=None), calls.c.time < end.replace(tzinfo=None)
        )
    ).one()
    return {"requests": row[0], "tokens": row[1]}


def test_text_is_not_kept_when_store_text_is_off(store):
    context = make_context(store, LEDGER_STORE_TEXT="false")
    context.ingestor.ingest_batch(_events(capture_event(call_id="quiet")))
    assert _count(store, calls) == 1 and _count(store, call_payloads) == 0


def test_secrets_in_bodies_are_masked_before_storage(context):
    request = dict(
        orjson.loads(
            orjson.dumps(
                {
                    "model": "gpt-4o",
                    "messages": [{"role": "user", "content": "my key is api-key: 0123456789abcdef0123456789abcdef"}],
                }
            )
        )
    )
    context.ingestor.ingest_batch(_events(capture_event(call_id="secret", request=request)))
    with context.store.read() as conn:
        body = conn.execute(select(call_payloads.c.request_body)).scalar_one()
    assert "0123456789abcdef0123456789abcdef" not in body


def test_cumulative_cuts_match_a_raw_scan_after_late_calls_across_a_month_boundary(context):
    def docs(days, tag):
        return [
            capture_event(
                call_id=f"{tag}-{day}-{hour}-{user}", time=f"2026-{day}T{hour:02d}:15:00Z", user_id=f"user-{user}"
            )
            for day in days
            for hour in (1, 12, 23)
            for user in range(3)
            if (hour + user) % 2 or day.endswith("1")
        ]

    context.ingestor.ingest_batch(_events(*docs(["11-02", "11-03"], "a")))
    context.ingestor.ingest_batch(_events(*docs(["10-30", "11-01"], "late")))  # days before the last one stored
    context.ingestor.ingest_batch(
        _events(*docs(["11-05"], "b"), *docs(["11-02"], "a"))
    )  # days copied forward; duplicates
    context.ingestor.ingest_batch(_events(*docs(["10-31"], "later")))  # a late call in a month already closed
    ranges = [
        ("10-30T00:00", "11-06T00:00"),
        ("10-31T00:00", "11-03T00:00"),
        ("11-02T00:00", "11-05T00:00"),
        ("10-30T05:00", "11-04T07:30"),
        ("11-04T00:00", "11-30T00:00"),
        # mid-day edges: the day-to-hour sums, within one day, across midnight, and a day written late
        ("10-30T13:00", "11-03T12:30"),
        ("11-02T02:10", "11-02T22:00"),
        ("10-31T12:00", "11-01T13:00"),
        # whole hours and days only: the spans are merged by looking their keys up, four of them here
        ("10-30T05:00", "11-05T07:00"),
    ]
    with context.store.read() as conn:
        for start, end in ranges:
            start, end = (datetime.fromisoformat(f"2026-{t}:00+00:00") for t in (start, end))
            fast = query_usage(conn, UsageQuery(start, end, ("user", "model"))).rows
            slow = conn.execute(
                select(calls.c.user_id, func.count(), func.sum(calls.c.total_tokens))
                .where(calls.c.time >= start.replace(tzinfo=None), calls.c.time < end.replace(tzinfo=None))
                .group_by(calls.c.user_id)
            ).all()
            assert sorted((r["user"], r["requests"], r["totalTokens"]) for r in fast) == sorted(
                tuple(r) for r in slow
            ), (start, end)


def test_hour_level_sums_are_kept_for_the_configured_days_and_older_edges_still_add_up(any_store):
    from shared.store.schema import DAY_TO_HOUR, usage_cumh_marks

    context = make_context(any_store, LEDGER_HOURLY_SUMS_DAYS="3")
    days = [f"11-{d:02d}" for d in range(1, 8)]
    for day in days:  # one batch a day, as they arrive
        context.ingestor.ingest_batch(
            _events(
                *(
                    capture_event(
                        call_id=f"{day}-{hour}-{user}", time=f"2026-{day}T{hour:02d}:15:00Z", user_id=f"user-{user}"
                    )
                    for hour in (2, 11, 20)
                    for user in range(2)
                )
            )
        )
    context.ingestor.ingest_batch(_events(capture_event(call_id="late", time="2026-11-01T05:15:00Z", user_id="user-9")))
    with context.store.read() as conn:
        kept = sorted(
            row[0].strftime("%m-%d") if isinstance(row[0], datetime) else row[0][5:10]
            for row in conn.execute(select(usage_cumh_marks.c.day))
        )
        late_rows = conn.execute(
            select(func.count())
            .select_from(DAY_TO_HOUR.tables["user,model"])
            .where(DAY_TO_HOUR.tables["user,model"].c.user_id == "user-9")
        ).scalar()
        for start, end in (
            ("11-01T10:00", "11-06T12:30"),
            ("11-02T03:00", "11-02T21:00"),
            ("11-05T10:00", "11-07T12:00"),
        ):
            start, end = (datetime.fromisoformat(f"2026-{t}:00+00:00") for t in (start, end))
            fast = query_usage(conn, UsageQuery(start, end, ("user", "model"))).rows
            slow = conn.execute(
                select(calls.c.user_id, func.count())
                .where(calls.c.time >= start.replace(tzinfo=None), calls.c.time < end.replace(tzinfo=None))
                .group_by(calls.c.user_id)
            ).all()
            assert sorted((r["user"], r["requests"]) for r in fast) == sorted(tuple(r) for r in slow), (start, end)
    assert kept == ["11-05", "11-06", "11-07"]  # the newest three days
    assert late_rows == 0  # a late call on a dropped day is left to the hourly rollup


def test_a_range_given_in_another_time_zone_counts_the_calls_at_its_edges(context):
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    # 23:30 UTC on 31 October is 00:30 on 1 November in Paris: inside a Paris November, outside a UTC one.
    times = [
        "2026-10-31T22:30:00Z",
        "2026-10-31T23:30:00Z",
        "2026-11-15T12:00:00Z",
        "2026-11-30T22:59:00Z",
        "2026-12-01T06:00:00Z",
    ]
    context.ingestor.ingest_batch(_events(*(capture_event(time=t) for t in times)))
    start, end = datetime(2026, 11, 1, tzinfo=paris), datetime(2026, 12, 1, tzinfo=paris)
    with context.store.read() as conn:
        for group_by in ((), ("user",), ("user", "ip"), ("day",)):  # cumulative cut, wide rollup, time keys
            result = query_usage(conn, UsageQuery(start, end, group_by))
            # 23:30 UTC Oct 31, Nov 15, 22:59 UTC Nov 30 (= 23:59 Paris)
            assert result.totals["requests"] == 3, group_by
