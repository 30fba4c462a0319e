"""What `GET /api/dashboard` shows, as data: the range a request asks for, then the figures of that view.

Everything comes from the read models the API's own routes use (usage totals and day series from the rollups,
quota status, alerts, dead letters), so the page cannot disagree with `/api/usage`. What a caller may see is
decided here, by the same rules as those routes: a Usage.Read caller's figures are their own calls only, and
the alerts, quotas and dead letters appear only for the roles that may read them through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from shared.alerts.delivery import alert_json, list_alerts
from shared.alerts.quotas import list_quotas, quota_status
from shared.api.auth import LEDGER_ADMIN, USAGE_READ_ALL, Caller
from shared.api.http import ApiError
from shared.reports.deadletters import count_dead_letters, list_dead_letters
from shared.reports.names import NAME_KEYS, add_names
from shared.reports.ptu import PtuPlan
from shared.reports.teams import Teams
from shared.reports.usage import UsageQuery, query_timeseries, query_top, query_usage
from shared.store.times import day_start, in_utc

DAY = timedelta(days=1)
PERIODS = ("month", "30d")
MAX_DAYS = 366  # one bar per day: a year still reads as a chart, and the answer stays small
TOP_KEYS = ("user", "subscription", "app", "model")
TOP_ROWS = 10
RECENT = 5


@dataclass(frozen=True)
class DashboardRange:
    start: datetime
    end: datetime
    period: str  # "month" | "30d" | "custom"


@dataclass(frozen=True)
class Sections:
    """Which of the role-guarded sections the caller may see (as their API routes allow)."""

    quotas: bool
    alerts: bool
    dead_letters: bool

    @classmethod
    def of(cls, caller: Caller | None) -> Sections:
        if caller is None:  # a route without roles; the dashboard has roles, so only tests build this
            return cls(quotas=True, alerts=True, dead_letters=True)
        reads_all = caller.has(USAGE_READ_ALL)
        return cls(quotas=reads_all, alerts=reads_all, dead_letters=caller.has(LEDGER_ADMIN))


@dataclass
class DashboardData:
    range: DashboardRange
    filters: dict[str, str]
    totals: dict[str, Any]
    days: list[dict[str, Any]]  # one row per UTC day of the range, days without calls as zeros
    top: dict[str, list[dict[str, Any]]]  # per TOP_KEYS key: up to TOP_ROWS rows by cost, names beside ids
    quotas: list[dict[str, Any]] | None = None  # None: the caller may not see the section
    alerts: list[dict[str, Any]] | None = None
    dead_letters: dict[str, Any] | None = None  # {"open": count, "items": newest few}
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # filter key -> {id: name}, for the headings


def dashboard_range(values: dict[str, Any], now: datetime) -> DashboardRange:
    """[start, end) of whole UTC days: this month (the default), the last 30 days with today, or from/to."""
    period, start, end = values.get("period"), values.get("from"), values.get("to")
    tomorrow = day_start(in_utc(now)) + DAY
    if start is not None or end is not None:
        if period is not None:
            raise ApiError(400, "Bad parameter", "period: give period or from/to, not both", parameter="period")
        end = end or tomorrow
        start = start or day_start(end - timedelta(days=30))
        if start >= end:
            raise ApiError(400, "Bad parameter", "from: must be before to", parameter="from")
        if end - start > timedelta(days=MAX_DAYS):
            raise ApiError(
                400,
                "Bad parameter",
                f"from: the dashboard shows at most {MAX_DAYS} days; narrow the range",
                parameter="from",
            )
        return DashboardRange(start, end, "custom")
    if period == "30d":
        return DashboardRange(tomorrow - 30 * DAY, tomorrow, "30d")
    return DashboardRange((tomorrow - DAY).replace(day=1), tomorrow, "month")


def dashboard_data(
    conn: Connection,
    view: DashboardRange,
    filters: dict[str, str],
    only_user: str | None,
    sections: Sections,
    *,
    now: datetime,
    tz: ZoneInfo,
    teams: Teams | None = None,
    ptu: PtuPlan | None = None,
) -> DashboardData:
    """Every figure of the page in one read transaction (`teams`: what a `team=` or `costCenter=` filter means)."""
    query = UsageQuery(view.start, view.end, (), filters, only_user, teams=teams, ptu=ptu)
    series = query_timeseries(conn, query, "day")
    top = {
        key: _top(conn, UsageQuery(view.start, view.end, (key,), filters, only_user, teams=teams, ptu=ptu))
        for key in TOP_KEYS
    }
    data = DashboardData(view, filters, series.totals, series.rows, top)
    data.names = _filter_names(conn, filters, only_user)
    if sections.quotas:
        data.quotas = _quotas(conn, now, tz, teams)
    if sections.alerts:
        data.alerts = [alert_json(row) for row in list_alerts(conn, RECENT)]
    if sections.dead_letters:
        data.dead_letters = {
            "open": count_dead_letters(conn, "open"),
            "items": list_dead_letters(conn, limit=RECENT, status="open").items,
        }
    return data


def _top(conn: Connection, query: UsageQuery) -> list[dict[str, Any]]:
    """The TOP_ROWS rows that cost most. With PTU the charge depends on shares of hours the database does not
    order by: the whole report is ranked by what is charged back (unpriced last, then most tokens)."""
    if query.ptu is None:
        return query_top(conn, query, TOP_ROWS)
    rows = query_usage(conn, query).rows
    rows.sort(key=lambda row: (row["chargebackUsd"] is None, -(row["chargebackUsd"] or 0), -row["totalTokens"]))
    return rows[:TOP_ROWS]


def _quotas(conn: Connection, now: datetime, tz: ZoneInfo, teams: Teams | None) -> list[dict[str, Any]]:
    items = [
        quota.as_json() | {"status": quota_status(conn, quota, now, tz, teams).as_json()} for quota in list_quotas(conn)
    ]
    for scope_type in {item["scopeType"] for item in items if item["scopeType"] in NAME_KEYS}:
        mine = [item for item in items if item["scopeType"] == scope_type]
        named = add_names(conn, [{scope_type: item["scopeId"]} for item in mine], (scope_type,))
        for item, row in zip(mine, named, strict=True):
            item["scopeName"] = row[NAME_KEYS[scope_type]]
    return items


def _filter_names(conn: Connection, filters: dict[str, str], only_user: str | None) -> dict[str, dict[str, str]]:
    """The names of the ids the page is narrowed to, so its heading says "kofi@contoso.com", not a GUID. A caller
    limited to their own usage learns no name through a filter but their own."""
    names: dict[str, dict[str, str]] = {}
    for key, value in filters.items():
        if key in NAME_KEYS and (only_user is None or (key, value) == ("user", only_user)):
            row = add_names(conn, [{key: value}], (key,))[0]
            if row[NAME_KEYS[key]]:
                names[key] = {value: row[NAME_KEYS[key]]}
    return names
