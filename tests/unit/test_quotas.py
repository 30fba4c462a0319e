"""Quota periods, status figures and definitions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.alerts.quotas import Quota, QuotaError, period_bounds, quota_from_json, status_of

UTC = UTC
PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_month_in_paris_starts_at_local_midnight_which_is_the_previous_utc_evening():
    # 2026-10-31 23:30 UTC is already November 1st, 00:30 in Paris (CET, UTC+1 after the October change).
    start, end = period_bounds("month", at("2026-10-31T23:30:00Z"), PARIS)
    assert start == at("2026-10-31T23:00:00Z")
    assert end == at("2026-11-30T23:00:00Z")


def test_the_same_moment_is_still_october_in_utc():
    start, end = period_bounds("month", at("2026-10-31T23:30:00Z"), ZoneInfo("UTC"))
    assert (start, end) == (at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z"))


def test_october_in_paris_spans_the_daylight_saving_change():
    start, end = period_bounds("month", at("2026-10-15T12:00:00Z"), PARIS)
    assert start == at("2026-09-30T22:00:00Z")  # CEST, UTC+2
    assert end == at("2026-10-31T23:00:00Z")  # CET, UTC+1
    day_start, day_end = period_bounds("day", at("2026-10-25T12:00:00Z"), PARIS)
    assert (day_end - day_start).total_seconds() == 25 * 3600  # the long day of the change


def test_iso_week_starts_on_monday():
    # Sunday 2026-11-29 at 23:30 UTC is Monday 00:30 in Paris: a new week there, the old one in UTC.
    assert period_bounds("week", at("2026-11-29T23:30:00Z"), PARIS) == (
        at("2026-11-29T23:00:00Z"),
        at("2026-12-06T23:00:00Z"),
    )
    assert period_bounds("week", at("2026-11-29T23:30:00Z"), ZoneInfo("UTC")) == (
        at("2026-11-23T00:00:00Z"),
        at("2026-11-30T00:00:00Z"),
    )


def test_december_rolls_into_the_next_year():
    assert period_bounds("month", at("2026-12-31T10:00:00Z"), ZoneInfo("UTC"))[1] == at("2027-01-01T00:00:00Z")


def test_status_uses_the_higher_share_of_the_two_limits_and_forecasts_linearly():
    quota = Quota("subscription", "s", "month", 1_000_000, 100.0)
    start, end = at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")
    status = status_of(quota, start, end, at("2026-11-11T00:00:00Z"), 300_000, 50.0)  # a third of the month
    assert status.percent == 50.0  # cost share beats token share (30 %)
    assert status.crossed == (50,)
    assert status.forecast_percent == 150.0
    assert status.forecast_full_at == at("2026-11-21T00:00:00Z")


def test_status_reaching_100_after_the_period_end_has_no_full_moment():
    quota = Quota("user", "u", "day", 1000, None)
    status = status_of(
        quota, at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"), at("2026-11-01T12:00:00Z"), 400, None
    )
    assert (status.percent, status.forecast_percent, status.forecast_full_at, status.crossed) == (40.0, 80.0, None, ())


def test_quota_definition_defaults_thresholds_and_dedupes_recipients():
    quota = quota_from_json({"period": "week", "limitTokens": 10, "notify": ["a@x.com", "a@x.com"]}, "app", "portal")
    assert quota.thresholds == (50, 80, 100) and quota.notify == ("a@x.com",)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"period": "year", "limitTokens": 1}, "period"),
        ({"period": "day"}, "limitTokens"),
        ({"period": "day", "limitTokens": -5}, "limitTokens"),
        ({"period": "day", "limitCostUsd": "ten"}, "limitCostUsd"),
        ({"period": "day", "limitTokens": 1, "thresholds": [0]}, "thresholds"),
        ({"period": "day", "limitTokens": 1, "notify": ["not-an-address"]}, "notify"),
        ({"period": "day", "limitTokens": 1, "budget": 3}, "budget"),
    ],
)
def test_an_invalid_quota_names_the_field(body, field):
    with pytest.raises(QuotaError) as error:
        quota_from_json(body, "subscription", "s")
    assert error.value.field == field
