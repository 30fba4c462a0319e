"""Timer `reconcile`: hourly call counts APIM logged against the ledger's, alerting on calls the ledger lacks.

The gateway's own log (ApiManagementGatewayLogs) is the independent witness: when it saw more calls of the
LLM operations in an hour than the ledger recorded, events were lost or are stuck. Only hours that ended at
least `SETTLE` ago are compared, so ingestion latency on either side (Log Analytics takes minutes, claim
checks up to LEDGER_BODY_WAIT_SECONDS) is not reported as loss. Each short hour is alerted once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, func, select

from shared.alerts.delivery import NewAlert, create_alert, deliver_pending, sender_for
from shared.app.settings import Settings
from shared.ingest.operations import (
    CANONICAL_BY_OPERATION_ID as LLM_OPERATION_IDS,
)  # the operation ids the ledger knows are the LLM ones
from shared.jobs.context import JobContext
from shared.store.schema import usage_hourly
from shared.store.times import aware_utc, hour_of, naive_utc

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
SETTLE = timedelta(hours=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Gap:
    hour: datetime
    apim_calls: int
    ledger_calls: int

    @property
    def missing(self) -> int:
        return self.apim_calls - self.ledger_calls


def _hour(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return hour_of(aware_utc(moment).astimezone(UTC))


def compare(apim_rows: Iterable[Mapping[str, Any]], ledger: Mapping[datetime, int]) -> list[Gap]:
    """Hours where APIM counted more calls than the ledger holds, oldest first."""
    apim: dict[datetime, int] = {}
    for row in apim_rows:
        hour = _hour(row["hour"])
        apim[hour] = apim.get(hour, 0) + int(row["calls"] or 0)
    return [
        Gap(hour, count, ledger.get(hour, 0)) for hour, count in sorted(apim.items()) if count > ledger.get(hour, 0)
    ]


def ledger_hourly_counts(conn: Connection, start: datetime, end: datetime) -> dict[datetime, int]:
    rows = conn.execute(
        select(usage_hourly.c.hour, func.sum(usage_hourly.c.requests))
        .where(usage_hourly.c.hour >= naive_utc(start), usage_hourly.c.hour < naive_utc(end))
        .group_by(usage_hourly.c.hour)
    )
    return {aware_utc(hour): int(count or 0) for hour, count in rows}


def gap_alert(gap: Gap, settings: Settings) -> NewAlert:
    when = f"{gap.hour:%Y-%m-%d %H:00} UTC"
    start, end = gap.hour.isoformat().replace("+00:00", "Z"), (gap.hour + HOUR).isoformat().replace("+00:00", "Z")
    summary = (
        f"APIM logged {gap.apim_calls:,} calls of the Azure OpenAI operations in the hour from {when}; the ledger "
        f"holds {gap.ledger_calls:,}. {gap.missing:,} calls are missing: check the dead letters, the Event Hub "
        f"consumer lag and the capture policy."
    )
    base = settings.public_url + "/api"
    return NewAlert(
        dedupe_key=f"reconcile:{start}",
        kind="reconcile",
        scope_type="ledger",
        scope_id="all",
        occurred_at=gap.hour,
        subject=f"[aoai-ledger] {gap.missing:,} calls missing from the ledger in the hour from {when}",
        details={
            "summary": summary,
            "facts": [
                ["Hour", when],
                ["Calls in ApiManagementGatewayLogs", f"{gap.apim_calls:,}"],
                ["Calls in the ledger", f"{gap.ledger_calls:,}"],
                ["Missing", f"{gap.missing:,}"],
            ],
            "links": [
                ["Ledger calls of that hour", f"{base}/requests?{urlencode({'from': start, 'to': end})}"],
                ["Dead letters", f"{base}/deadletters"],
            ],
            "data": {"apimCalls": gap.apim_calls, "ledgerCalls": gap.ledger_calls, "missing": gap.missing},
        },
        to=settings.alert_to,
    )


QueryGateway = Callable[[datetime, datetime], list[dict[str, Any]]]


def run_reconcile(
    context: JobContext, now: datetime | None = None, query: QueryGateway | None = None
) -> dict[str, Any]:
    settings, store = context.settings, context.store
    if not settings.log_analytics_workspace_id and query is None:
        logger.info("reconcile skipped: LEDGER_LOG_ANALYTICS_WORKSPACE_ID is empty")
        return {"skipped": True}
    now = now or datetime.now(UTC)
    end = hour_of(now) - SETTLE
    start = end - WINDOW
    if query is None:
        from shared.adapters.monitor_query import query_gateway_hourly

        def query(first: datetime, last: datetime) -> list[dict[str, Any]]:
            return query_gateway_hourly(
                settings.log_analytics_workspace_id, LLM_OPERATION_IDS, first, last, settings.azure_client_id or None
            )

    apim_rows = [row for row in query(start, end) if start <= _hour(row["hour"]) < end]
    with store.read() as conn:
        gaps = compare(apim_rows, ledger_hourly_counts(conn, start, end))
    raised = []
    for gap in gaps:
        with store.write() as conn:
            alert_id = create_alert(conn, gap_alert(gap, settings), settings.email_mode, now)
        if alert_id is not None:
            raised.append(alert_id)
    delivery = deliver_pending(store, sender_for(settings), settings, now)
    report = {
        "hours": len(apim_rows),
        "gaps": [(g.hour.isoformat(), g.missing) for g in gaps],
        "raised": raised,
        "sent": delivery.sent,
    }
    logger.info("reconcile %s..%s: %s", start.isoformat(), end.isoformat(), report)
    return report
