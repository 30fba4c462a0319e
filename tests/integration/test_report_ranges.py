"""What the usage reports show at the edges of their range, through `shared.api.handle` on SQLite and PostgreSQL:
the default range starts on a whole UTC day, and a time series has every bucket, empty ones as zeros."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from tests.builders import capture_event
from tests.integration.test_usage_api import call, ingest


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_default_range_starts_at_midnight_utc_so_its_first_day_is_whole(context):
    first_day = (datetime.now(UTC) - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    ingest(
        context,
        capture_event(call_id="first-minute-of-the-first-day", time=_iso(first_day)),
        capture_event(call_id="the-day-before", time=_iso(first_day - timedelta(seconds=1))),
    )
    for name in ("usage", "usage_timeseries"):
        body = orjson.loads(call(context, name).body)
        assert body["from"] == _iso(first_day), name
        assert body["totals"]["requests"] == 1, name
    series = orjson.loads(call(context, "usage_timeseries").body)["rows"]
    assert series[0]["time"] == _iso(first_day) and series[0]["requests"] == 1
    given_to = orjson.loads(call(context, "usage", {"to": "2026-11-28T15:30:00Z"}).body)
    assert given_to["from"] == "2026-10-29T00:00:00Z"


def test_a_time_series_has_every_bucket_and_the_empty_ones_are_zeros(context):
    ingest(
        context,
        capture_event(call_id="monday", time="2026-11-23T10:15:00Z"),
        capture_event(call_id="thursday", time="2026-11-26T08:00:00Z", user_id="oid-ben"),
    )
    week = {"from": "2026-11-23T00:00:00Z", "to": "2026-11-28T00:00:00Z"}
    rows = orjson.loads(call(context, "usage_timeseries", week).body)["rows"]
    assert [row["time"][:10] for row in rows] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert [row["requests"] for row in rows] == [1, 0, 0, 1, 0]
    empty = rows[1]
    assert (
        empty["totalTokens"],
        empty["failedRequests"],
        empty["avgTotalTokens"],
        empty["costUsd"],
        empty["avgDurationMs"],
    ) == (0, 0, 0.0, None, None)
    assert set(empty) == set(rows[0])  # the same fields as a bucket with calls

    hours = orjson.loads(
        call(
            context,
            "usage_timeseries",
            {"from": "2026-11-23T09:30:00Z", "to": "2026-11-23T13:00:00Z", "interval": "hour"},
        ).body
    )["rows"]
    assert [(row["time"], row["requests"]) for row in hours] == [
        ("2026-11-23T09:00:00Z", 0),
        ("2026-11-23T10:00:00Z", 1),
        ("2026-11-23T11:00:00Z", 0),
        ("2026-11-23T12:00:00Z", 0),
    ]

    by_user = orjson.loads(call(context, "usage_timeseries", {**week, "groupBy": "user", "format": "json"}).body)[
        "rows"
    ]
    assert len(by_user) == 5 * 2  # each user's series is continuous
    assert {(row["time"][:10], row["user"]): row["requests"] for row in by_user if row["requests"]} == {
        ("2026-11-23", "oid-ana"): 1,
        ("2026-11-26", "oid-ben"): 1,
    }
    csv_lines = call(context, "usage_timeseries", {**week, "format": "csv"}).body.decode().splitlines()
    assert len(csv_lines) == 1 + 5


def test_a_series_too_large_to_fill_is_a_400_saying_how_to_narrow_it(context):
    ingest(context, *(capture_event(call_id=f"ip-{i}", ip=f"198.51.100.{i}") for i in range(50)))
    quarter = {"from": "2026-09-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "groupBy": "ip"}
    response = call(context, "usage_timeseries", {**quarter, "interval": "hour"})  # 2,184 hours x 50 ips
    assert response.status == 400 and "narrow the range" in orjson.loads(response.body)["detail"]
    assert len(orjson.loads(call(context, "usage_timeseries", quarter).body)["rows"]) == 91 * 50
