"""Timer `anomaly_scan`: read hourly figures, apply the rules of `shared.alerts.anomalies`, raise each anomaly once.

Every run re-evaluates the complete hours of the last `LOOKBACK` (14 days) from the hourly rollup: late
events, a paused app or a replayed Capture file are all seen on the next run, and dedupe keys keep re-runs
silent. An anomaly in the 3 hours after an alert of the same kind and scope is part of that episode and
not mailed again: a three-hour spike is one email, not three.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, case, func, select

from shared.alerts.anomalies import (
    DAY,
    HOUR,
    Anomaly,
    AnomalyLimits,
    find_error_bursts,
    find_filter_bursts,
    find_newcomers,
    find_spikes,
)
from shared.alerts.delivery import NewAlert, create_alert, deliver_pending, raised_between, sender_for
from shared.app.settings import Settings
from shared.jobs.context import JobContext
from shared.jobs.quota_check import scope_label
from shared.store.schema import calls, usage_hourly
from shared.store.times import aware_utc, hour_of, iso_utc, naive_utc

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=14)
EPISODE = timedelta(hours=3)
SCOPE_COLUMNS = {"subscription": "subscription_id", "user": "user_id", "app": "app_id"}


def run_anomaly_scan(context: JobContext, now: datetime | None = None) -> dict[str, Any]:
    settings, store = context.settings, context.store
    now = now or datetime.now(UTC)
    limits = AnomalyLimits.from_settings(settings)
    end = hour_of(now)
    start = end - LOOKBACK
    with store.read() as conn:
        found = detect(conn, start, end, limits)
        labels = {(a.scope_type, a.scope_id): scope_label(conn, a.scope_type, a.scope_id) for a in found}
        series = {(a.scope_type, a.scope_id, a.hour): _day_series(conn, a) for a in found if a.kind == "spike"}
    raised = []
    for anomaly in sorted(found, key=lambda a: (a.hour, a.kind, a.scope_type, a.scope_id)):
        alert = anomaly_alert(
            anomaly,
            labels[(anomaly.scope_type, anomaly.scope_id)],
            series.get((anomaly.scope_type, anomaly.scope_id, anomaly.hour)),
            limits,
            settings,
        )
        with store.write() as conn:
            if anomaly.kind in ("spike", "error_burst", "filter_burst") and raised_between(
                conn, anomaly.kind, anomaly.scope_type, anomaly.scope_id, anomaly.hour - EPISODE, anomaly.hour
            ):
                continue
            alert_id = create_alert(conn, alert, settings.email_mode, now)
        if alert_id is not None:
            raised.append(alert_id)
    delivery = deliver_pending(store, sender_for(settings), settings, now)
    report = {"anomalies": len(found), "raised": raised, "sent": delivery.sent, "failed": delivery.failed}
    logger.info("anomaly_scan %s..%s: %s", start.isoformat(), end.isoformat(), report)
    return report


def detect(conn: Connection, start: datetime, end: datetime, limits: AnomalyLimits) -> list[Anomaly]:
    """Every anomaly of the complete hours in [start, end)."""
    hours = [start + i * HOUR for i in range(int((end - start) / HOUR))]
    baseline_start = start - limits.baseline_days * DAY
    tokens: dict[tuple[str, str], dict[datetime, float]] = defaultdict(dict)
    counts: dict[tuple[tuple[str, str], datetime], tuple[int, int, int]] = {}
    for scope_type, column in SCOPE_COLUMNS.items():
        key = usage_hourly.c[column]
        rows = conn.execute(
            select(
                usage_hourly.c.hour,
                key,
                func.sum(usage_hourly.c.total_tokens),
                func.sum(usage_hourly.c.requests),
                func.sum(usage_hourly.c.failed_requests),
                func.sum(case((usage_hourly.c.status == 429, usage_hourly.c.requests), else_=0)),
            )
            .where(usage_hourly.c.hour >= naive_utc(baseline_start), usage_hourly.c.hour < naive_utc(end), key != "")
            .group_by(usage_hourly.c.hour, key)
        )
        for hour, scope_id, total, requests, failed, throttled in rows:
            hour = aware_utc(hour)
            tokens[(scope_type, scope_id)][hour] = float(total or 0)
            if hour >= start:
                counts[((scope_type, scope_id), hour)] = (int(requests or 0), int(failed or 0), int(throttled or 0))
    found = _fold_nested(conn, _sustained(conn, find_spikes(tokens, hours, limits)))
    found += find_error_bursts(counts, limits)
    found += find_filter_bursts(_filter_hits(conn, start, end), limits)
    found += find_newcomers(*_first_seen(conn), start, limits)
    return found


def _calls_of(conn: Connection, anomaly: Anomaly):
    column = calls.c[SCOPE_COLUMNS[anomaly.scope_type]]
    return (column == anomaly.scope_id, calls.c.hour == naive_utc(anomaly.hour))


def _sustained(conn: Connection, spikes: list[Anomaly]) -> list[Anomaly]:
    """Drop spikes that one large call explains: without its largest call the hour must still be over."""
    kept = []
    for spike in spikes:
        largest = conn.execute(select(func.max(calls.c.total_tokens)).where(*_calls_of(conn, spike))).scalar() or 0
        if spike.value - float(largest) > spike.threshold:
            kept.append(spike)
    return kept


def _fold_nested(conn: Connection, spikes: list[Anomaly]) -> list[Anomaly]:
    """A user's spike that makes at least half of its subscription's (or app's) excess is reported once, as the
    user's, naming the subscription and app it lifted: one event, one mail."""
    users = [s for s in spikes if s.scope_type == "user"]
    shares: dict[tuple[str, str, datetime], list[tuple[Anomaly, float]]] = defaultdict(list)
    for user in users:
        for subscription, app, total in conn.execute(
            select(calls.c.subscription_id, calls.c.app_id, func.sum(calls.c.total_tokens))
            .where(*_calls_of(conn, user))
            .group_by(calls.c.subscription_id, calls.c.app_id)
        ):
            shares[("subscription", subscription, user.hour)].append((user, float(total or 0)))
            shares[("app", app, user.hour)].append((user, float(total or 0)))
    kept = []
    for spike in spikes:
        carriers = [
            user
            for user, total in shares.get((spike.scope_type, spike.scope_id, spike.hour), [])
            if total >= 0.5 * (spike.value - (spike.baseline or 0))
        ]
        if spike.scope_type != "user" and carriers:
            carriers[0].facts.setdefault("alsoLifts", []).append(
                f"{spike.scope_type} {spike.scope_id} to {spike.value:,.0f} tokens"
            )
            continue
        kept.append(spike)
    return kept


def _filter_hits(conn: Connection, start: datetime, end: datetime) -> dict[tuple[tuple[str, str], datetime], int]:
    hits = {}
    for scope_type, column in SCOPE_COLUMNS.items():
        key = calls.c[column]
        rows = conn.execute(
            select(calls.c.hour, key, func.count())
            .where(
                calls.c.time >= naive_utc(start),
                calls.c.time < naive_utc(end),
                calls.c.content_filtered.is_(True),
                key.is_not(None),
            )
            .group_by(calls.c.hour, key)
        )
        for hour, scope_id, count in rows:
            hits[((scope_type, scope_id), aware_utc(hour))] = int(count)
    return hits


def _first_seen(conn: Connection) -> tuple[dict[tuple[str, str, str], datetime], dict[str, datetime]]:
    """First hour of each (ip | app) per subscription, and of each subscription, from the whole rollup."""
    subscription = usage_hourly.c.subscription_id
    first: dict[tuple[str, str, str], datetime] = {}
    for kind, column in (("ip", usage_hourly.c.ip), ("app", usage_hourly.c.app_id)):
        rows = conn.execute(
            select(subscription, column, func.min(usage_hourly.c.hour))
            .where(subscription != "", column != "")
            .group_by(subscription, column)
        )
        first.update({(kind, sub, value): aware_utc(hour) for sub, value, hour in rows})
    starts = conn.execute(
        select(subscription, func.min(usage_hourly.c.hour)).where(subscription != "").group_by(subscription)
    )
    return first, {sub: aware_utc(hour) for sub, hour in starts}


def _day_series(conn: Connection, anomaly: Anomaly) -> list[list[Any]]:
    """The scope's tokens in the 24 hours up to and including the anomalous hour, for the chart."""
    key = usage_hourly.c[SCOPE_COLUMNS[anomaly.scope_type]]
    first = anomaly.hour - 23 * HOUR
    rows = dict(
        conn.execute(
            select(usage_hourly.c.hour, func.sum(usage_hourly.c.total_tokens))
            .where(
                key == anomaly.scope_id,
                usage_hourly.c.hour >= naive_utc(first),
                usage_hourly.c.hour <= naive_utc(anomaly.hour),
            )
            .group_by(usage_hourly.c.hour)
        ).all()
    )
    return [[_label(first + i * HOUR), int(rows.get(naive_utc(first + i * HOUR)) or 0)] for i in range(24)]


def _label(hour: datetime) -> str:
    return hour.strftime("%m-%d %H:00")


def anomaly_alert(
    anomaly: Anomaly, label: str, series: list[list[Any]] | None, limits: AnomalyLimits, settings: Settings
) -> NewAlert:
    scope = f"{anomaly.scope_type} {label}"
    hour, f = anomaly.hour, anomaly.facts
    when = f"{hour:%Y-%m-%d %H:00} UTC"
    base = settings.public_url + "/api"
    scope_filter: dict[str, Any] = {anomaly.scope_type: anomaly.scope_id}
    window = {"from": iso_utc(hour), "to": iso_utc(hour + HOUR)}
    facts: list[list[Any]] = [["Scope", scope], ["Hour", when]]  # shown with str()
    if anomaly.kind == "spike":
        subject = f"Token spike: {scope} used {anomaly.value:,.0f} tokens in the hour from {when}"
        summary = (
            f"{scope} used {anomaly.value:,.0f} tokens in the hour from {when}. The same hour on the previous "
            f"{limits.baseline_days} days had a median of {f['sameHourMedian']:,.0f} (MAD {f['sameHourMad']:,.0f}); "
            f"the previous {limits.recent_hours} hours a median of {f['recentMedian']:,.0f} (MAD {f['recentMad']:,.0f}). "
            f"It fires above median + {limits.spike_factor:g} x MAD on both and above {limits.min_tokens:,} tokens: "
            f"here {anomaly.threshold:,.0f}."
        )
        facts += [
            ["Tokens", f"{anomaly.value:,.0f}"],
            ["Same-hour median / MAD", f"{f['sameHourMedian']:,.0f} / {f['sameHourMad']:,.0f}"],
            ["Recent median / MAD", f"{f['recentMedian']:,.0f} / {f['recentMad']:,.0f}"],
            ["Threshold", f"{anomaly.threshold:,.0f}"],
        ]
        if f.get("alsoLifts"):
            facts.append(["Also lifts", "; ".join(f["alsoLifts"])])
    elif anomaly.kind == "error_burst":
        subject = f"Error burst: {f['failed']} of {f['requests']} calls failed for {scope} in the hour from {when}"
        summary = (
            f"{f['failed']} of {f['requests']} calls of {scope} failed ({anomaly.value:.0%}) in the hour from {when}, "
            f"{f['throttled']} of them throttled (429). It fires at {limits.error_rate:.0%} failed with at least "
            f"{limits.min_errors} failures."
        )
        facts += [
            ["Calls", f["requests"]],
            ["Failed", f["failed"]],
            ["Throttled (429)", f["throttled"]],
            ["Failure rate", f"{anomaly.value:.0%}"],
            ["Threshold", f"{limits.error_rate:.0%} and {limits.min_errors} failures"],
        ]
        window["status"] = "429" if f["throttled"] * 2 >= f["failed"] else None
    elif anomaly.kind == "filter_burst":
        subject = f"Content-filter burst: {f['hits']} filtered calls for {scope} in the hour from {when}"
        summary = (
            f"Azure's content filter blocked or cut {f['hits']} calls of {scope} in the hour from {when} "
            f"(threshold {limits.filter_hits}): possible abuse or a broken prompt template."
        )
        facts += [["Filtered calls", f["hits"]], ["Threshold", limits.filter_hits]]
    else:
        what = "caller IP" if anomaly.kind == "new_ip" else "app"
        value = f.get("ip") or f.get("app")
        subject = f"New {what} {value} for {scope}"
        summary = (
            f"{scope} was called from {what} {value} for the first time in the hour from {when}; the subscription "
            f"has been in use since {f['subscriptionSince'][:10]} and had never seen it."
        )
        facts += [[what.capitalize(), value]]
        scope_filter = {"subscription": anomaly.scope_id, ("ip" if anomaly.kind == "new_ip" else "app"): value}
    query = {**window, **scope_filter}
    links = [
        ["Calls of that hour", f"{base}/requests?{urlencode({k: v for k, v in query.items() if v})}"],
        [
            "Usage by hour around it",
            f"{base}/usage?{urlencode({'groupBy': 'hour', 'from': iso_utc(hour - 23 * HOUR), 'to': iso_utc(hour + HOUR), **scope_filter})}",
        ],
    ]
    identity = f.get("ip") or f.get("app") or iso_utc(hour)
    return NewAlert(
        dedupe_key=f"{anomaly.kind}:{anomaly.scope_type}:{anomaly.scope_id}:{identity}"[:256],
        kind=anomaly.kind,
        scope_type=anomaly.scope_type,
        scope_id=anomaly.scope_id,
        occurred_at=hour,
        subject=f"[aoai-ledger] {subject}",
        to=settings.alert_to,
        details={
            "summary": summary,
            "facts": [[k, str(v)] for k, v in facts],
            "links": links,
            "series": {"title": "Tokens per hour (UTC), the last 24 hours", "points": series, "mark": _label(hour)}
            if series
            else None,
            "data": {"value": anomaly.value, "baseline": anomaly.baseline, "threshold": anomaly.threshold, **f},
        },
    )
