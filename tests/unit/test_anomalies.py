"""The anomaly rules on plain numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.alerts.anomalies import (
    Anomaly,
    AnomalyLimits,
    find_error_bursts,
    find_filter_bursts,
    find_newcomers,
    find_spikes,
    robust_baseline,
    spike_in_words,
)

HOUR = timedelta(hours=1)
NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)
LIMITS = AnomalyLimits()


def _series(level: float, wobble: float = 0.1, **overrides: float) -> dict[datetime, float]:
    """Ten days of hourly tokens around `level`, alternating +/- wobble, with some hours overridden."""
    series = {NOON - i * HOUR: level * (1 + (wobble if i % 2 else -wobble)) for i in range(1, 240)}
    for offset, value in overrides.items():
        series[NOON - int(offset[1:]) * HOUR] = value
    return series


def test_robust_baseline_ignores_one_earlier_outlier():
    baseline = robust_baseline([1000, 1100, 900, 1000, 50_000, 1050, 950], factor=6)
    assert baseline.median == 1000 and baseline.mad == 50 and baseline.threshold == 1600


def test_a_spike_well_above_both_baselines_is_found():
    series = _series(10_000)
    series[NOON] = 80_000
    found = find_spikes({("user", "kofi"): series}, [NOON], LIMITS)
    assert len(found) == 1
    spike = found[0]
    assert spike.value == 80_000 and spike.baseline == 9_000 and spike.threshold < 80_000


def test_ordinary_variation_is_no_spike():
    series = _series(30_000, wobble=0.3)
    series[NOON] = 45_000
    assert find_spikes({("user", "ana"): series}, [NOON], LIMITS) == []


def test_small_hours_never_alert_however_large_the_ratio():
    series = _series(100)
    series[NOON] = 15_000  # 150x, but below LEDGER_ANOMALY_MIN_TOKENS
    assert find_spikes({("user", "ana"): series}, [NOON], LIMITS) == []


def test_a_level_reached_gradually_over_recent_hours_is_no_spike():
    series = _series(2_000)
    for i in range(1, 7):
        series[NOON - i * HOUR] = 60_000  # the team has been this busy all morning
    series[NOON] = 65_000
    assert find_spikes({("subscription", "s"): series}, [NOON], LIMITS) == []


def test_error_burst_needs_both_the_rate_and_the_count():
    counts = {
        (("subscription", "s"), NOON): (40, 20, 18),
        (("subscription", "t"), NOON): (4, 3, 3),
        (("subscription", "u"), NOON): (400, 20, 10),
    }
    found = find_error_bursts(counts, LIMITS)
    assert [(a.scope_id, a.value, a.facts["throttled"]) for a in found] == [("s", 0.5, 18)]


def test_filter_burst_fires_at_the_configured_count():
    hits = {(("user", "a"), NOON): 5, (("user", "b"), NOON): 4}
    assert [a.scope_id for a in find_filter_bursts(hits, LIMITS)] == ["a"]


def test_a_new_ip_alerts_only_for_a_subscription_with_history():
    first_seen = {
        ("ip", "old-sub", "203.0.113.99"): NOON,
        ("ip", "young-sub", "198.51.100.1"): NOON,
        ("ip", "old-sub", "203.0.113.7"): NOON - timedelta(days=20),
    }
    starts = {"old-sub": NOON - timedelta(days=30), "young-sub": NOON - timedelta(days=2)}
    found = find_newcomers(first_seen, starts, NOON - timedelta(days=14), LIMITS)
    assert [(a.kind, a.scope_id, a.facts["ip"]) for a in found] == [("new_ip", "old-sub", "203.0.113.99")]


def test_a_spike_is_told_in_plain_words_against_the_usual_hour_or_the_last_hours_when_that_hour_is_idle():
    usual = Anomaly("spike", "user", "oid-kofi", NOON, 54_000, 2_000, 20_000, {"sameHourMedian": 2_000})
    assert spike_in_words(usual, LIMITS).startswith("about 27\u00d7 this user's usual hour (2,000 tokens")
    night = Anomaly("spike", "app", "app-x", NOON, 30_000, 0, 20_000, {"sameHourMedian": 0, "recentMedian": 4_000})
    assert spike_in_words(night, LIMITS).startswith("about 7.5\u00d7 this app's last 6 hours")
    idle = Anomaly("spike", "app", "app-x", NOON, 30_000, 0, 20_000, {"sameHourMedian": 0, "recentMedian": 0})
    assert "usually idle" in spike_in_words(idle, LIMITS)
