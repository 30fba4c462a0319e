"""Timer `quota_check`: total each quota's current period, alert newly crossed thresholds, deliver the outbox
(and, with `LEDGER_DAILY_DIGEST`, raise yesterday's digest once).

A crossing is claimed by inserting (quota, period start, threshold) into `quota_crossings` in the same
transaction as the alert row; the primary key lets exactly one of two racing checks win, and a threshold is
never alerted twice in one period. One mail per quota per check names the highest threshold crossed, so a
quota jumping from 40 % to 120 % sends one mail, not three.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from shared.alerts.delivery import NewAlert, create_alert, deliver_pending, insert_once, sender_for
from shared.alerts.notify import money, percent
from shared.alerts.quotas import Quota, QuotaStatus, list_quotas, quota_status, scope_query, sync_quota_file
from shared.app.settings import Settings
from shared.jobs.context import JobContext
from shared.jobs.digest import raise_daily_digest
from shared.reports.names import full_id_facts, scope_labels
from shared.reports.teams import Teams
from shared.reports.usage import query_usage
from shared.store.schema_alerts import quota_crossings
from shared.store.times import iso_utc, naive_utc

logger = logging.getLogger(__name__)


def run_quota_check(context: JobContext, now: datetime | None = None) -> dict[str, Any]:
    """One check: sync the quota file, raise alerts for new crossings, send what waits in the outbox."""
    settings, store = context.settings, context.store
    now = now or datetime.now(UTC)
    if settings.quotas_file is not None:
        with store.write() as conn:
            sync_quota_file(conn, settings.quotas_file)
    raised = []
    with store.read() as conn:
        candidates = []
        quotas = list_quotas(conn)
        labels = scope_labels(conn, [(quota.scope_type, quota.scope_id) for quota in quotas])  # names beside ids
        for quota in quotas:
            if quota.scope_type == "team" and (
                context.teams is None or not context.teams.known("team", quota.scope_id)
            ):
                # Kept (LEDGER_QUOTAS_FILE may name it before the teams file does), but it counts no call.
                logger.warning(
                    "quota_check: team %r is not in LEDGER_TEAMS_FILE; its quota counts no call", quota.scope_id
                )
            status = quota_status(conn, quota, now, settings.timezone, context.teams)
            if status.crossed and _unclaimed(conn, quota, status):
                candidates.append(
                    (
                        quota,
                        status,
                        _series(conn, quota, status, now, context.teams),
                        labels[(quota.scope_type, quota.scope_id)],
                    )
                )
    for quota, status, series, label in candidates:
        alert = quota_alert(quota, status, series, label, settings)
        with store.write() as conn:
            alert_id = claim_and_raise(conn, quota, status, alert, settings.email_mode, now)
        if alert_id is not None:
            raised.append(alert_id)
    if settings.daily_digest:
        with store.write() as conn:
            digest = raise_daily_digest(conn, settings, now)
        if digest is not None:
            raised.append(digest)
    delivery = deliver_pending(store, sender_for(settings), settings, now)
    report = {"quotas": len(candidates), "raised": raised, "sent": delivery.sent, "failed": delivery.failed}
    logger.info("quota_check: %s", report)
    return report


def _unclaimed(conn: Connection, quota: Quota, status: QuotaStatus) -> bool:
    claimed = set(
        conn.execute(
            select(quota_crossings.c.threshold).where(
                quota_crossings.c.scope_type == quota.scope_type,
                quota_crossings.c.scope_id == quota.scope_id,
                quota_crossings.c.period_start == naive_utc(status.period_start),
            )
        ).scalars()
    )
    return bool(set(status.crossed) - claimed)


def claim_and_raise(
    conn: Connection, quota: Quota, status: QuotaStatus, alert: NewAlert, email_mode: str, now: datetime
) -> int | None:
    """Claim each crossed threshold; raise one alert if a claim is higher than any alerted before."""
    period = naive_utc(status.period_start)
    key = (
        quota_crossings.c.scope_type == quota.scope_type,
        quota_crossings.c.scope_id == quota.scope_id,
        quota_crossings.c.period_start == period,
    )
    before = max(conn.execute(select(quota_crossings.c.threshold).where(*key)).scalars(), default=0)
    claimed = [
        t
        for t in status.crossed
        if insert_once(
            conn,
            quota_crossings.insert().values(
                scope_type=quota.scope_type,
                scope_id=quota.scope_id,
                period_start=period,
                threshold=t,
                claimed_at=naive_utc(now),
            ),
        )
    ]
    if not claimed or max(claimed) <= before:
        return None  # another check won the race, or only a lower threshold was added to the quota later
    alert_id = create_alert(conn, alert, email_mode, now)
    if alert_id is not None:
        conn.execute(
            quota_crossings.update().where(*key, quota_crossings.c.threshold.in_(claimed)).values(alert_id=alert_id)
        )
    return alert_id


def quota_alert(quota: Quota, status: QuotaStatus, series: list[list[Any]], label: str, settings: Settings) -> NewAlert:
    threshold = max(status.crossed)
    start, end = iso_utc(status.period_start), iso_utc(status.period_end)
    scope = f"{quota.scope_type} {label}"
    used = _amounts(quota, status.used_tokens, status.used_cost_usd)
    summary = f"The {quota.period}ly quota of {scope} is at {percent(status.percent)} ({used}), past the {threshold}% threshold."
    forecast = "n/a"
    if status.forecast_percent is not None and status.forecast_scale is not None:
        scale = status.forecast_scale
        cost = None if status.used_cost_usd is None else status.used_cost_usd * scale
        forecast = f"{percent(status.forecast_percent)} ({_amounts(quota, round(status.used_tokens * scale), cost)})"
        summary += f" At the rate so far it ends the {quota.period} at {forecast}"
        if status.percent >= 100:
            summary += "; the limit is already reached."
        else:
            summary += f" and reaches 100% at {iso_utc(status.forecast_full_at)}." if status.forecast_full_at else "."
    full_at = "not this period"
    if status.percent >= 100:
        full_at = "already reached"
    elif status.forecast_full_at:
        full_at = iso_utc(status.forecast_full_at) or full_at
    facts = [
        ["Scope", scope],
        *full_id_facts(quota.scope_type, quota.scope_id, label),
        ["Period", f"{start} .. {end}"],
        ["Used", f"{percent(status.percent)} ({used})"],
        ["Forecast at period end", forecast],
        ["Forecast 100% at", full_at],
        ["Thresholds crossed", ", ".join(f"{t}%" for t in status.crossed)],
    ]
    scope_filter = {quota.scope_type: quota.scope_id}
    base = settings.public_url + "/api"
    links = [
        [
            "Usage this period by day",
            f"{base}/usage?{urlencode({'groupBy': 'day', 'from': start, 'to': end, **scope_filter})}",
        ],
        ["Calls this period", f"{base}/requests?{urlencode({'from': start, 'to': end, **scope_filter})}"],
        ["All quotas and their status", f"{base}/quotas"],
    ]
    unit = "hour (UTC)" if quota.period == "day" else "day (UTC)"
    return NewAlert(
        dedupe_key=f"quota:{quota.scope_type}:{quota.scope_id}:{start}:{threshold}",
        kind="quota",
        scope_type=quota.scope_type,
        scope_id=quota.scope_id,
        occurred_at=status.period_start,
        subject=f"[aoai-ledger] {scope}: {threshold}% of the {quota.period}ly quota used ({percent(status.percent)})",
        details={
            "summary": summary,
            "facts": facts,
            "links": links,
            "series": {"title": f"Tokens per {unit} this period", "points": series},
            "data": {"quota": quota.as_json(), "status": status.as_json(), "threshold": threshold},
        },
        to=quota.notify,
        cc=settings.alert_to,
    )


def _amounts(quota: Quota, tokens: int, cost: float | None) -> str:
    """Tokens and dollars against their limits, the same way for the figure so far and the forecast."""
    parts = []
    if quota.limit_tokens:
        parts.append(f"{tokens:,} of {quota.limit_tokens:,} tokens")
    else:
        parts.append(f"{tokens:,} tokens")
    if quota.limit_cost_usd:
        spent = "cost unknown" if cost is None else money(cost, quota.limit_cost_usd)
        parts.append(f"{spent} of {money(quota.limit_cost_usd, cost)}")
    elif cost is not None:
        parts.append(money(cost))
    return "; ".join(parts)


def _series(conn: Connection, quota: Quota, status: QuotaStatus, now: datetime, teams: Teams | None) -> list[list[Any]]:
    step = "hour" if quota.period == "day" else "day"
    end = min(max(now, status.period_start), status.period_end)
    rows = query_usage(conn, scope_query(quota, status.period_start, end, teams, (step,))).rows
    return [
        [row[step][:13].replace("T", " ") + "h" if step == "hour" else row[step], row["totalTokens"]] for row in rows
    ]
