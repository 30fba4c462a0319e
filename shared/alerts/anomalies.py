"""Anomaly rules over hourly figures: pure functions, so each rule is tested on plain numbers.

- Token spike: an hour's tokens for a subscription, user or app above BOTH robust baselines, the same hour on
  the previous 7 days (daily rhythm, weekends included: the median ignores them) and the previous 6 hours
  (the current level, so a team that grew last week stops alerting) — each `median + factor * spread`, where
  spread is the MAD, floored at a tenth of the median so a perfectly steady series does not alert on +1 %.
  Below `min_tokens` an hour never alerts: doubling 300 tokens is not news.
- Error burst: failed calls (status 0 or >= 400, 429s included) at or above `error_rate` of an hour's calls,
  and at least `min_errors` of them, so one failure in two calls at night stays quiet.
- Content-filter burst: at least `filter_hits` blocked prompts or filtered completions in an hour for one scope.
- Newcomer: a caller IP or app first seen for a subscription, once that subscription has `settle_days` of
  history (on a fresh ledger everything is new, and that is not an alert).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
Scope = tuple[str, str]  # (scope type, scope id)


@dataclass(frozen=True)
class AnomalyLimits:
    spike_factor: float = 6.0
    min_tokens: int = 20_000
    error_rate: float = 0.25
    min_errors: int = 10
    filter_hits: int = 5
    baseline_days: int = 7
    recent_hours: int = 6
    settle_days: int = 7

    @classmethod
    def from_settings(cls, settings: Any) -> AnomalyLimits:
        return cls(
            spike_factor=settings.anomaly_spike_factor,
            min_tokens=settings.anomaly_min_tokens,
            error_rate=settings.anomaly_error_rate,
            filter_hits=settings.anomaly_filter_hits,
        )


@dataclass(frozen=True)
class Anomaly:
    kind: str  # spike | error_burst | filter_burst | new_ip | new_app
    scope_type: str
    scope_id: str
    hour: datetime  # the hour it happened in (UTC, aware)
    value: float
    baseline: float | None
    threshold: float
    facts: dict[str, Any] = field(default_factory=dict)  # figures behind the verdict, for the email


@dataclass(frozen=True)
class Baseline:
    median: float
    mad: float
    threshold: float


def robust_baseline(values: Iterable[float], factor: float) -> Baseline:
    """Median and median absolute deviation; the threshold is median + factor x max(MAD, median / 10)."""
    values = list(values)
    middle = median(values) if values else 0.0
    mad = median(abs(v - middle) for v in values) if values else 0.0
    return Baseline(middle, mad, middle + factor * max(mad, middle / 10))


def find_spikes(
    tokens: Mapping[Scope, Mapping[datetime, float]], hours: Iterable[datetime], limits: AnomalyLimits
) -> list[Anomaly]:
    """Token spikes among `hours`, for every scope's hourly series (missing hours count as 0)."""
    found = []
    hours = list(hours)
    for (scope_type, scope_id), series in tokens.items():
        for hour in hours:
            value = series.get(hour, 0)
            if value < limits.min_tokens:
                continue
            daily = robust_baseline(
                (series.get(hour - d * DAY, 0) for d in range(1, limits.baseline_days + 1)), limits.spike_factor
            )
            recent = robust_baseline(
                (series.get(hour - h * HOUR, 0) for h in range(1, limits.recent_hours + 1)), limits.spike_factor
            )
            threshold = max(daily.threshold, recent.threshold, limits.min_tokens)
            if value > threshold:
                found.append(
                    Anomaly(
                        "spike",
                        scope_type,
                        scope_id,
                        hour,
                        value,
                        daily.median,
                        threshold,
                        {
                            "sameHourMedian": daily.median,
                            "sameHourMad": daily.mad,
                            "sameHourThreshold": daily.threshold,
                            "recentMedian": recent.median,
                            "recentMad": recent.mad,
                            "recentThreshold": recent.threshold,
                        },
                    )
                )
    return found


def find_error_bursts(
    counts: Mapping[tuple[Scope, datetime], tuple[int, int, int]], limits: AnomalyLimits
) -> list[Anomaly]:
    """`counts` maps (scope, hour) to (requests, failed, throttled)."""
    found = []
    for ((scope_type, scope_id), hour), (requests, failed, throttled) in counts.items():
        if failed >= limits.min_errors and requests and failed / requests >= limits.error_rate:
            found.append(
                Anomaly(
                    "error_burst",
                    scope_type,
                    scope_id,
                    hour,
                    failed / requests,
                    None,
                    limits.error_rate,
                    {"requests": requests, "failed": failed, "throttled": throttled},
                )
            )
    return found


def find_filter_bursts(hits: Mapping[tuple[Scope, datetime], int], limits: AnomalyLimits) -> list[Anomaly]:
    return [
        Anomaly("filter_burst", scope_type, scope_id, hour, count, None, limits.filter_hits, {"hits": count})
        for ((scope_type, scope_id), hour), count in hits.items()
        if count >= limits.filter_hits
    ]


def find_newcomers(
    first_seen: Mapping[tuple[str, str, str], datetime],
    subscription_start: Mapping[str, datetime],
    since: datetime,
    limits: AnomalyLimits,
) -> list[Anomaly]:
    """`first_seen` maps (kind "ip" | "app", subscription, value) to the first hour it was seen."""
    found = []
    for (kind, subscription, value), hour in first_seen.items():
        start = subscription_start.get(subscription)
        if hour < since or start is None or hour - start < limits.settle_days * DAY:
            continue
        found.append(
            Anomaly(
                f"new_{kind}",
                "subscription",
                subscription,
                hour,
                0,
                None,
                0,
                {kind: value, "subscriptionSince": start.isoformat()},
            )
        )
    return found


def spike_in_words(spike: Anomaly, limits: AnomalyLimits) -> str:
    """The rule's verdict as a person says it: "about 27x this user's usual hour" (the same hour on the last
    days), or against the last few hours when that hour is usually idle."""
    usual, recent = spike.facts.get("sameHourMedian", 0), spike.facts.get("recentMedian", 0)
    whose = f"this {spike.scope_type}'s"
    if usual:
        return f"about {_times(spike.value / usual)} {whose} usual hour ({usual:,.0f} tokens at this hour on a typical day)"
    if recent:
        return (
            f"about {_times(spike.value / recent)} {whose} last {limits.recent_hours} hours "
            f"({recent:,.0f} tokens an hour); this hour is usually idle"
        )
    return f"{whose.capitalize()} hour is usually idle, and the last {limits.recent_hours} hours were too"


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}\u00d7" if ratio >= 10 else f"{ratio:.1f}\u00d7"
