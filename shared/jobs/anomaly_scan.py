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
from urllib.parse import quote, urlencode

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
    spike_in_words,
)
from shared.alerts.delivery import NewAlert, create_alert, deliver_pending, raised_between, sender_for
from shared.app.settings import Settings
from shared.jobs.context import JobContext
from shared.reports.names import full_id_facts, scope_labels
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
        scopes = {(a.scope_type, a.scope_id) for a in found}
        scopes |= {(t, i) for a in found for t, i, _ in a.facts.get("alsoLifts", [])}
        scopes |= {("app", a.facts["app"]) for a in found if a.kind == "new_app"}
        labels = scope_labels(conn, scopes)
        series = {(a.scope_type, a.scope_id, a.hour): _day_series(conn, a) for a in found if a.kind == "spike"}
        top = {(a.scope_type, a.scope_id, a.hour): _top_calls(conn, a) for a in found if a.kind == "spike"}
    raised = []
    for anomaly in sorted(found, key=lambda a: (a.hour, a.kind, a.scope_type, a.scope_id)):
        key = (anomaly.scope_type, anomaly.scope_id, anomaly.hour)
        alert = anomaly_alert(anomaly, labels, series.get(key), top.get(key, []), limits, settings)
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
    """One incident, one mail: a spike of an app or subscription that a narrower spike of the same hour
    explains (its calls make at least half of the broader scope's excess) is folded into the narrowest one,
    a user before an app, which then names every scope it lifted."""
    narrower = {"app": ("user",), "subscription": ("user", "app")}
    shares: dict[tuple[str, str, datetime], list[tuple[Anomaly, float]]] = defaultdict(list)
    for spike in spikes:
        broader = [t for t in ("app", "subscription") if spike.scope_type in narrower[t]]
        if not broader:
            continue
        rows = conn.execute(
            select(calls.c.subscription_id, calls.c.app_id, func.sum(calls.c.total_tokens))
            .where(*_calls_of(conn, spike))
            .group_by(calls.c.subscription_id, calls.c.app_id)
        )
        for subscription, app, total in rows:
            for scope_type, scope_id in (("subscription", subscription), ("app", app)):
                if scope_type in broader and scope_id:
                    shares[(scope_type, scope_id, spike.hour)].append((spike, float(total or 0)))
    home: dict[int, Anomaly] = {}  # id(folded spike) -> the spike whose mail reports it
    kept = []
    for spike in sorted(spikes, key=lambda s: ("user", "app", "subscription").index(s.scope_type)):
        excess = spike.value - (spike.baseline or 0)
        carriers = sorted(
            (
                home.get(id(narrow), narrow)
                for narrow, total in shares.get((spike.scope_type, spike.scope_id, spike.hour), [])
                if total >= 0.5 * excess
            ),
            key=lambda s: ("user", "app").index(s.scope_type),
        )
        if carriers:
            home[id(spike)] = carriers[0]
            carriers[0].facts.setdefault("alsoLifts", []).append([spike.scope_type, spike.scope_id, spike.value])
            continue
        kept.append(spike)
    return kept


def _top_calls(conn: Connection, anomaly: Anomaly, count: int = 3) -> list[tuple[str, int, str]]:
    """The largest calls of the hour, by tokens: (call id, tokens, model)."""
    rows = conn.execute(
        select(calls.c.call_id, calls.c.total_tokens, calls.c.model)
        .where(*_calls_of(conn, anomaly))
        .order_by(calls.c.total_tokens.desc(), calls.c.call_id)
        .limit(count)
    )
    return [(call_id, int(tokens or 0), model or "unknown model") for call_id, tokens, model in rows]


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
    anomaly: Anomaly,
    labels: dict[tuple[str, str], str],
    series: list[list[Any]] | None,
    top_calls: list[tuple[str, int, str]],
    limits: AnomalyLimits,
    settings: Settings,
) -> NewAlert:
    label = labels[(anomaly.scope_type, anomaly.scope_id)]
    scope = f"{anomaly.scope_type} {label}"
    hour, f = anomaly.hour, anomaly.facts
    when = f"{hour:%Y-%m-%d %H:00} UTC"
    base = settings.public_url + "/api"
    scope_filter: dict[str, Any] = {anomaly.scope_type: anomaly.scope_id}
    window = {"from": iso_utc(hour), "to": iso_utc(hour + HOUR)}
    facts: list[list[Any]] = [["Scope", scope], *full_id_facts(anomaly.scope_type, anomaly.scope_id, label)]
    facts.append(["Hour", when])  # facts are shown with str()
    if anomaly.kind == "spike":
        lifted = [f"{t} {labels[(t, i)]} to {v:,.0f} tokens" for t, i, v in f.get("alsoLifts", [])]
        subject = f"Token spike: {scope} used {anomaly.value:,.0f} tokens in the hour from {when}"
        if lifted:
            subject += ", lifting " + " and ".join(f"{t} {labels[(t, i)]}" for t, i, _ in f["alsoLifts"])
        summary = (
            f"{scope} used {anomaly.value:,.0f} tokens in the hour from {when}: "
            f"{spike_in_words(anomaly, limits)}. It alerts when an hour is far above both the usual hour and "
            f"the last few hours (here above {anomaly.threshold:,.0f} tokens) and over {limits.min_tokens:,} tokens."
        )
        if lifted:
            summary += " The same calls lifted " + " and ".join(lifted) + "."
        facts += [
            ["Tokens", f"{anomaly.value:,.0f}"],
            [f"Usual for this hour ({limits.baseline_days} days)", f"{f['sameHourMedian']:,.0f}"],
            [f"Usual lately ({limits.recent_hours} hours)", f"{f['recentMedian']:,.0f} an hour"],
            ["Alert level", f"{anomaly.threshold:,.0f} tokens"],
        ]
        if lifted:
            facts.append(["Also lifted", "; ".join(lifted)])
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
        named = labels.get(("app", f["app"]), f["app"]) if anomaly.kind == "new_app" else value
        subject = f"New {what} {named} for {scope}"
        summary = (
            f"{scope} was called from {what} {named} for the first time in the hour from {when}; the subscription "
            f"has been in use since {f['subscriptionSince'][:10]} and had never seen it."
        )
        facts += [[what.capitalize(), named]]
        scope_filter = {"subscription": anomaly.scope_id, ("ip" if anomaly.kind == "new_ip" else "app"): value}
    query = {**window, **scope_filter}
    links = [
        ["Calls of that hour", f"{base}/requests?{urlencode({k: v for k, v in query.items() if v})}"],
        [
            "Usage by hour around it",
            f"{base}/usage?{urlencode({'groupBy': 'hour', 'from': iso_utc(hour - 23 * HOUR), 'to': iso_utc(hour + HOUR), **scope_filter})}",
        ],
    ]
    links += [
        [f"Largest call #{rank}: {tokens:,} tokens, {model}", f"{base}/requests/{quote(call_id, safe='')}"]
        for rank, (call_id, tokens, model) in enumerate(top_calls, 1)
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
