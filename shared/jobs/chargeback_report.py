"""Timer `chargeback_report`: last month's cost and tokens by subscription and by user, mailed once to
`LEDGER_REPORT_TO` with the CSV attached (and posted to the chat webhooks).

The timer runs daily, not only on the 1st: the report is an alert keyed by the month (`chargeback:2026-11`) in
the durable outbox, so the first run of a month raises it, every later run finds the key and does nothing, and a
missed 1st is caught up the next day. Two racing runs insert the same key; the unique constraint lets one win.
The figures and the CSV are computed when the alert is raised and stored with it, so a retried send repeats the
same mail.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from shared.alerts.delivery import NewAlert, create_alert, deliver_pending, sender_for
from shared.alerts.notify import money
from shared.app.settings import Settings
from shared.jobs.context import JobContext
from shared.reports.csv_export import csv_text
from shared.reports.names import row_label
from shared.reports.ptu import PtuPlan
from shared.reports.usage import UsageQuery, query_usage, usage_csv_columns
from shared.store.schema_alerts import alerts

logger = logging.getLogger(__name__)

TOP = 10  # rows of each table in the mail; the CSV has them all


def report_month(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """Last month, as a calendar month of `LEDGER_TIMEZONE`: [start, end) in that zone."""
    end = now.astimezone(settings.timezone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (end - timedelta(days=1)).replace(day=1), end  # wall-clock arithmetic, like the digest's day


def run_chargeback_report(context: JobContext, now: datetime | None = None) -> dict[str, Any]:
    """Raise last month's report unless it exists (nothing when `LEDGER_REPORT_TO` is empty), then deliver."""
    settings, store = context.settings, context.store
    if not settings.report_to:
        return {"raised": None, "sent": [], "failed": []}
    now = now or datetime.now(UTC)
    start, end = report_month(now, settings)
    key = dedupe_key(start)
    with store.read() as conn:
        exists = conn.execute(select(alerts.c.id).where(alerts.c.dedupe_key == key)).first() is not None
    raised = None
    if not exists:
        with store.read() as conn:
            alert = chargeback_alert(conn, settings, start, end, context.ptu_plan)
        with store.write() as conn:
            raised = create_alert(conn, alert, settings.email_mode, now)
    delivery = deliver_pending(store, sender_for(settings), settings, now)
    report = {"month": start.strftime("%Y-%m"), "raised": raised, "sent": delivery.sent, "failed": delivery.failed}
    logger.info("chargeback_report: %s", report)
    return report


def dedupe_key(month_start: datetime) -> str:
    return f"chargeback:{month_start.strftime('%Y-%m')}"


def chargeback_alert(
    conn: Connection, settings: Settings, start: datetime, end: datetime, plan: PtuPlan | None
) -> NewAlert:
    """Last month's report; `plan` (LEDGER_PTU_FILE, read at start) shares provisioned hours as /api/usage does."""
    month = start.strftime("%Y-%m")
    # Names beside the ids come with the rows.
    by_subscription = query_usage(conn, UsageQuery(start, end, ("subscription",), ptu=plan)).rows
    by_user = query_usage(conn, UsageQuery(start, end, ("user",), ptu=plan)).rows
    detail = query_usage(conn, UsageQuery(start, end, ("subscription", "user"), ptu=plan)).rows
    totals = query_usage(conn, UsageQuery(start, end, (), ptu=plan)).totals
    charged = "chargebackUsd" if plan is not None else "costUsd"
    cost = _money(totals[charged])
    base = f"{settings.public_url}/api/usage"
    window = {"from": start.isoformat(), "to": end.isoformat()}
    facts: list[list[str]] = [
        ["Month", f"{month} ({settings.timezone.key})"],
        ["Calls", f"{totals['requests']:,}"],
        ["Tokens", f"{totals['totalTokens']:,}"],
        ["Cost (list or agreed prices)", _money(totals["costUsd"])],
        *(
            [
                ["Provisioned throughput (shared by use)", _money(totals["ptuCostUsd"])],
                ["Provisioned hours nobody used", _money(totals["ptuIdleCostUsd"])],
                ["Charged back", cost],
            ]
            if plan is not None
            else []
        ),
        ["Calls without a known price", f"{totals['unpricedRequests']:,}"],
        *[_fact("Subscription", row, "subscription", charged) for row in by_subscription[:TOP]],
        *[_fact("User", row, "user", charged) for row in by_user[:TOP]],
    ]
    # subscriptionName and userName after their ids
    columns = usage_csv_columns(("subscription", "user"), ptu=plan is not None)
    return NewAlert(
        dedupe_key=dedupe_key(start),
        kind="chargeback",
        scope_type="ledger",
        scope_id="all",
        occurred_at=start,
        subject=f"aoai-ledger chargeback {month}: {totals['totalTokens']:,} tokens, {cost}",
        details={
            "summary": (
                f"Azure OpenAI usage in {month} by subscription and by user, as recorded by the ledger "
                f"(top {TOP} of each here; every subscription and user in the attached CSV)."
            ),
            "facts": facts,
            "series": {
                "title": "Cost (USD) by subscription",
                "points": [[row_label(row, "subscription"), row[charged] or 0] for row in by_subscription[:TOP]],
            },
            "links": [
                ["Usage by subscription", f"{base}?{urlencode({'groupBy': 'subscription', **window})}"],
                ["Usage by user", f"{base}?{urlencode({'groupBy': 'user', **window})}"],
                ["This CSV", f"{base}?{urlencode({'groupBy': 'subscription,user', 'format': 'csv', **window})}"],
            ],
            "attachments": [
                {"filename": f"chargeback-{month}.csv", "contentType": "text/csv", "text": csv_text(columns, detail)}
            ],
            "data": {"month": month, "totals": totals},
        },
        to=settings.report_to,
    )


def _fact(kind: str, row: dict[str, Any], key: str, cost: str) -> list[str]:
    return [f"{kind} {row_label(row, key)}", f"{_money(row[cost])}, {row['totalTokens']:,} tokens"]


def _money(value: float | None) -> str:
    return "unknown" if value is None else money(value)  # a small month is "$0.00125", not "$0.00"
