"""The optional daily digest (`LEDGER_DAILY_DIGEST`): yesterday's usage, once, to the admins.

It goes through the same durable alert outbox as quota and anomaly alerts, keyed by the day, so it is sent
exactly once however many checks or instances run, and a failed send is retried by the next check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection

from shared.alerts.delivery import NewAlert, create_alert
from shared.alerts.notify import money
from shared.app.settings import Settings
from shared.reports.names import row_label
from shared.reports.usage import UsageQuery, query_usage

TOP = 10


def digest_day(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """Yesterday, as a calendar day of `LEDGER_TIMEZONE`: [start, end) in that zone."""
    local = now.astimezone(settings.timezone)
    end = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end  # wall-clock arithmetic: a DST day is 23 or 25 hours long


def raise_daily_digest(conn: Connection, settings: Settings, now: datetime) -> int | None:
    """Create yesterday's digest unless it exists; its alert id, or None."""
    start, end = digest_day(now, settings)
    by_subscription = query_usage(conn, UsageQuery(start, end, ("subscription",)))
    by_model = query_usage(conn, UsageQuery(start, end, ("model",))).rows
    totals = by_subscription.totals
    day = start.strftime("%Y-%m-%d")
    cost = "unknown" if totals["costUsd"] is None else money(totals["costUsd"])
    query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
    details: dict[str, Any] = {
        "summary": f"Usage of Azure OpenAI on {day} ({settings.timezone.key}), as recorded by the ledger.",
        "facts": [
            ["Calls", f"{totals['requests']:,}"],
            ["Failed calls", f"{totals['failedRequests']:,}"],
            ["Tokens", f"{totals['totalTokens']:,}"],
            ["Cost (list or agreed prices)", cost],
            ["Calls with estimated tokens", f"{totals['estimatedTokensRequests']:,}"],
            ["Calls without a known price", f"{totals['unpricedRequests']:,}"],
            *[[f"Model {row['model'] or 'unknown'}", f"{row['totalTokens']:,} tokens"] for row in by_model[:TOP]],
        ],
        "series": {
            "title": "Tokens by subscription",
            "points": [[row_label(row, "subscription"), row["totalTokens"]] for row in by_subscription.rows[:TOP]],
        },
        "links": [
            ["Usage by subscription and model", f"{settings.public_url}/api/usage?groupBy=subscription,model&{query}"],
            ["Usage by user", f"{settings.public_url}/api/usage?groupBy=user&{query}"],
        ],
    }
    alert = NewAlert(
        dedupe_key=f"digest:{day}",
        kind="digest",
        scope_type="ledger",
        scope_id="all",
        occurred_at=start,
        subject=f"aoai-ledger daily digest {day}: {totals['requests']:,} calls, {totals['totalTokens']:,} tokens, {cost}",
        details=details,
        to=settings.alert_to,
    )
    return create_alert(conn, alert, settings.email_mode, now)
