"""`GET /api/dashboard`: usage for people, as one server-rendered page (inline CSS and SVG, no script, no
external asset: the app sits in a private network, so no CDN).

Same identity and roles as `GET /api/usage`: a Usage.Read caller sees only their own usage, and the quota,
alert and dead-letter sections appear only for the roles their routes need. Every value on the page is
escaped (names come from callers). The figures are assembled in `dashboard_data`, the chart in `dashboard_chart`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from shared.api.auth import USAGE_READ, USAGE_READ_ALL, Caller
from shared.api.dashboard_chart import CHART_CSS, charged_usd, day_chart, money
from shared.api.dashboard_data import (
    MAX_DAYS,
    PERIODS,
    TOP_KEYS,
    DashboardData,
    Sections,
    dashboard_data,
    dashboard_range,
)
from shared.api.http import ApiRequest, ApiResponse
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import FILTER_PARAMS, check_team_keys, filters_of, own_rows_only
from shared.reports.names import NAME_KEYS
from shared.store.times import iso_utc

DASHBOARD_PARAMS = (
    Param(
        "period",
        "enum",
        "`month`: this calendar month in whole UTC days (the default); `30d`: the last 30 whole UTC days, today "
        "included; or give `from`/`to` instead",
        enum=PERIODS,
    ),
    Param("from", "time", "start of a custom range, inclusive (ISO-8601 UTC, a date is its 00:00 UTC)"),
    Param(
        "to",
        "time",
        f"end of a custom range, exclusive; default the end of today (UTC); at most {MAX_DAYS} days after `from`",
    ),
    *FILTER_PARAMS,
)
_TITLES = {"user": "Top users", "subscription": "Top subscriptions", "app": "Top apps", "model": "Top models"}
_CSS = (
    """
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;
background:#f6f8fa}header{background:#0b3d62;color:#fff;padding:12px 20px}header h1{font-size:22px;margin:0}
header p{margin:2px 0 0;color:#c9d8e6}main{max-width:1200px;margin:0 auto;padding:16px}
a{color:#0969da}nav.periods{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 12px}
nav.periods a,nav.periods strong{padding:4px 10px;border-radius:14px;border:1px solid #d0d7de;background:#fff;
text-decoration:none}nav.periods strong{background:#0969da;color:#fff;border-color:#0969da}
form{display:flex;flex-wrap:wrap;gap:6px;align-items:center}input,button{font:inherit;padding:2px 6px}
.filters{margin:0 0 12px}.filters span{background:#ddf4ff;border-radius:12px;padding:2px 10px;margin-right:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.card .label{color:#57606a;font-size:13px}.card .v{font-size:24px;font-weight:600;overflow-wrap:anywhere}
.panel{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:16px 0;overflow-x:auto}
.panel h2{font-size:17px;margin:0 0 8px}.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;
height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(380px,100%),1fr));gap:0 16px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 6px;border-bottom:1px solid #eaeef2;text-align:right;
vertical-align:top}th{color:#57606a;font-weight:600;font-size:13px}th:first-child,td:first-child{text-align:left}
td.name{overflow-wrap:anywhere;max-width:260px;text-align:left}.card .sub{color:#57606a;font-size:13px}.id{display:block;color:#57606a;font-size:12px}
.meter{background:#eaeef2;border-radius:4px;height:10px;min-width:90px}.meter span{display:block;height:100%;
border-radius:4px;background:#1a7f37}.meter span.warn{background:#bf8700}.meter span.over{background:#cf222e}
.muted{color:#57606a}code{font:13px ui-monospace,Consolas,monospace;overflow-wrap:anywhere}
@media (max-width:640px){main{padding:8px}header{padding:10px 12px}.card .v{font-size:20px}
td.name{max-width:160px}th,td{padding:4px 3px}
table.stack tr:first-child{display:none}table.stack tr{display:block;padding:6px 0;border-bottom:1px solid #eaeef2}
table.stack td{display:block;text-align:left;border:0;max-width:none;padding:1px 3px}}
"""
    + CHART_CSS
)


def _view_params(data: DashboardData) -> dict[str, str]:
    view = data.range
    if view.period == "custom":
        return {"from": iso_utc(view.start) or "", "to": iso_utc(view.end) or ""}
    return {"period": view.period} if view.period != "month" else {}


def _link(params: dict[str, str]) -> str:
    """A link to the dashboard with these parameters, escaped for an attribute."""
    return escape("dashboard" + (f"?{urlencode(params)}" if params else ""))


def _day(moment: datetime) -> str:
    return (
        moment.strftime("%Y-%m-%d")
        if moment == moment.replace(hour=0, minute=0, second=0, microsecond=0)
        else (moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
    )


def _range_text(data: DashboardData) -> str:
    start, end = data.range.start.astimezone(UTC), data.range.end.astimezone(UTC)
    last = end - timedelta(days=1)
    if _day(end) == end.strftime("%Y-%m-%d"):  # whole days: name the last one included
        return f"{_day(start)} to {last:%Y-%m-%d} (UTC, whole days)" if last > start else f"{_day(start)} (UTC)"
    return f"{_day(start)} to {_day(end)} (end excluded)"


def _named(key: str, ident: Any, name: str | None) -> str:
    if ident is None:
        return '<span class="muted">(none)</span>'
    shown = name or str(ident)
    return escape(shown) + (f'<span class="id">{escape(str(ident))}</span>' if name and name != str(ident) else "")


def _periods(data: DashboardData) -> str:
    filters = dict(data.filters)
    choices = [("month", "This month", filters), ("30d", "Last 30 days", {"period": "30d", **filters})]
    links = "".join(
        f"<strong>{escape(label)}</strong>" if data.range.period == period else f'<a href="{_link(params)}">{label}</a>'
        for period, label, params in choices
    )
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in sorted(data.filters.items())
    )
    start = data.range.start.astimezone(UTC).strftime("%Y-%m-%d")
    end = data.range.end.astimezone(UTC).strftime("%Y-%m-%d")
    form = (
        f'<form method="get" action="dashboard">{hidden}<label>from <input type="date" name="from" value="{start}">'
        f'</label><label>to (excluded) <input type="date" name="to" value="{end}"></label><button>Show</button></form>'
    )
    return f'<nav class="periods">{links}{form}</nav>'


def _filters(data: DashboardData) -> str:
    if not data.filters:
        return ""
    view = _view_params(data)
    chips = []
    for key, value in data.filters.items():
        name = data.names.get(key, {}).get(value)
        rest = {k: v for k, v in data.filters.items() if k != key}
        shown = escape(f"{name} ({value})" if name and name != value else value)
        chips.append(f'<span>{escape(key)}: {shown} <a href="{_link(view | rest)}" title="remove">&times;</a></span>')
    return f'<p class="filters">Narrowed to {"".join(chips)} <a href="{_link(view)}">show everything</a></p>'


def _totals(data: DashboardData) -> str:
    """One card per total; `data-value` holds the figure as the API gives it (the tests compare the two)."""
    totals = data.totals
    requests, failed = int(totals["requests"]), int(totals["failedRequests"])
    estimated, unpriced = int(totals["estimatedTokensRequests"]), int(totals["unpricedRequests"])
    cards = [
        ("requests", "Calls", f"{requests:,}", requests, ""),
        ("totalTokens", "Tokens", f"{int(totals['totalTokens']):,}", totals["totalTokens"], ""),
        ("costUsd", "Cost (USD)", money(totals["costUsd"]), totals["costUsd"], f"{unpriced:,} calls without a price"),
        *_provisioned_cards(totals),
        (
            "failureRate",
            "Failure rate",
            f"{100 * failed / requests if requests else 0:.1f} %",
            failed,
            f"{failed:,} calls",
        ),
        (
            "estimatedTokensRequests",
            "Estimated-token calls",
            f"{estimated:,}",
            estimated,
            "tokens counted, not reported",
        ),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card" id="total-{key}" data-value="{escape(str(raw))}"><div class="label">{label}</div>'
            f'<div class="v">{escape(text)}</div>'
            + (f'<div class="sub">{escape(sub)}</div>' if sub and (key != "costUsd" or unpriced) else "")
            + "</div>"
            for key, label, text, raw, sub in cards
        )
        + "</div>"
    )


def _provisioned_cards(totals: dict[str, Any]) -> list[tuple[str, str, str, Any, str]]:
    """With LEDGER_PTU_FILE: what is charged back (per-token cost plus shares of provisioned hours), and the
    provisioned hours nobody used, which no row is charged for."""
    if "chargebackUsd" not in totals:
        return []
    shares = f"{money(totals['ptuCostUsd'])} of it provisioned hours"
    idle = totals.get("ptuIdleCostUsd")
    return [
        ("chargebackUsd", "Charged back (USD)", money(totals["chargebackUsd"]), totals["chargebackUsd"], shares),
        *(
            [("ptuIdleCostUsd", "Idle PTU hours (USD)", money(idle), idle, "charged to nobody")]
            if idle is not None
            else []
        ),
    ]


def _chart(data: DashboardData) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(day['time'])[:10])}</td><td>{int(day['requests']):,}</td>"
        f"<td>{int(day['totalTokens']):,}</td><td>{escape(money(charged_usd(day)) if day['requests'] else '$0.00')}</td></tr>"
        for day in data.days
    )
    return (
        '<section class="panel" id="per-day"><h2>Tokens and cost per day</h2><p class="legend">'
        '<span><i style="background:#0969da"></i>tokens</span><span><i style="background:#bc4c00"></i>cost</span></p>'
        f"{day_chart(data.days)}<details><summary>Per day as a table</summary><table><tr><th>day (UTC)</th>"
        f"<th>calls</th><th>tokens</th><th>cost</th></tr>{rows}</table></details></section>"
    )


def _top(data: DashboardData, key: str) -> str:
    view = _view_params(data)
    name_key = NAME_KEYS.get(key)
    lines = []
    for row in data.top[key]:
        ident = row[key]
        label = _named(key, ident, row.get(name_key) if name_key else None)
        if ident is not None and data.filters.get(key) != str(ident):
            label = f'<a href="{_link(view | data.filters | {key: str(ident)})}">{label}</a>'
        lines.append(
            f'<tr><td class="name">{label}</td><td>{int(row["requests"]):,}</td><td>{int(row["totalTokens"]):,}</td>'
            f"<td>{escape(money(charged_usd(row)))}</td></tr>"
        )
    body = "".join(lines) or '<tr><td colspan="4" class="muted">no calls</td></tr>'
    return (
        f'<section class="panel" id="top-{key}"><h2>{_TITLES[key]} by cost</h2><table><tr><th>{escape(key)}</th>'
        f"<th>calls</th><th>tokens</th><th>cost</th></tr>{body}</table></section>"
    )


def _quotas(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        status = item["status"]
        percent = float(status["percent"])
        level = "over" if percent >= 100 else "warn" if percent >= 80 else ""
        limits = " and ".join(
            text
            for text in (
                f"{int(status['usedTokens']):,} of {item['limitTokens']:,} tokens" if item["limitTokens"] else "",
                f"{money(status['usedCostUsd'])} of {money(item['limitCostUsd'])}" if item["limitCostUsd"] else "",
            )
            if text
        )
        forecast = "no forecast yet"
        if status["forecastPercent"] is not None:
            forecast = f"{status['forecastPercent']:.0f} % by the end of the {item['period']}"
            if status["forecastFullAt"]:
                forecast += f", full on {status['forecastFullAt'][:10]}"
        scope = _named(item["scopeType"], item["scopeId"], item.get("scopeName"))
        lines.append(
            f'<tr><td class="name">{escape(item["scopeType"])}: {scope}</td><td>{escape(item["period"])}</td>'
            f'<td><div class="meter" title="{percent:.1f} %"><span class="{level}" style="width:{min(percent, 100):.1f}%">'
            f"</span></div>{percent:.1f} % · {escape(limits)}</td><td>{escape(forecast)}</td></tr>"
        )
    body = "".join(lines) or '<tr><td colspan="4" class="muted">no quotas set (PUT /api/quotas/...)</td></tr>'
    return (
        '<section class="panel" id="quotas"><h2>Quotas</h2><table class="stack"><tr><th>scope</th><th>period</th><th>used</th>'
        f"<th>forecast</th></tr>{body}</table></section>"
    )


def _alerts(items: list[dict[str, Any]]) -> str:
    body = (
        "".join(
            f"<tr><td>{escape((item['occurredAt'] or item['createdAt'])[:16].replace('T', ' '))}</td>"
            f'<td>{escape(item["kind"])}</td><td class="name">{escape(item["subject"])}</td></tr>'
            for item in items
        )
        or '<tr><td colspan="3" class="muted">no alerts</td></tr>'
    )
    return (
        '<section class="panel" id="alerts"><h2>Recent alerts <a href="alerts">(all)</a></h2><table class="stack"><tr>'
        f"<th>when (UTC)</th><th>kind</th><th>subject</th></tr>{body}</table></section>"
    )


def _dead_letters(letters: dict[str, Any]) -> str:
    body = "".join(
        f'<tr><td>{escape(item["receivedAt"][:16].replace("T", " "))}</td><td class="name">{escape(item["reason"])}'
        f'<code class="id">{escape(item["preview"][:80])}</code></td></tr>'
        for item in letters["items"]
    )
    table = f'<table class="stack"><tr><th>received (UTC)</th><th>reason</th></tr>{body}</table>' if body else ""
    return (
        f'<section class="panel" id="dead-letters"><h2>Open dead letters: <span id="dead-letters-open">'
        f'{int(letters["open"]):,}</span> <a href="deadletters?status=open">(all)</a></h2>{table}</section>'
    )


def _csv_links(data: DashboardData) -> str:
    base = {"from": iso_utc(data.range.start) or "", "to": iso_utc(data.range.end) or "", **data.filters}
    links = " · ".join(
        f'<a href="{escape("usage?" + urlencode({"format": "csv", **base, "groupBy": key}))}">per {key}</a>'
        for key in ("day", *TOP_KEYS)
    )
    return f'<p id="csv">CSV of this view: {links}</p>'


def dashboard_html(data: DashboardData, caller: Caller | None) -> str:
    """The whole page."""
    own = caller is not None and not caller.has(USAGE_READ_ALL) and caller.has(USAGE_READ)
    scope = "Your own usage (Usage.Read)" if own else "All usage"
    sections = [
        _chart(data),
        '<div class="grid">' + "".join(_top(data, key) for key in TOP_KEYS) + "</div>",
        _quotas(data.quotas) if data.quotas is not None else "",
        _alerts(data.alerts) if data.alerts is not None else "",
        _dead_letters(data.dead_letters) if data.dead_letters is not None else "",
        _csv_links(data),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Usage dashboard · aoai-ledger</title><style>{_CSS}</style></head><body>"
        f'<header><h1>Azure OpenAI usage</h1><p id="range">{escape(scope)} · {escape(_range_text(data))}</p></header>'
        f"<main>{_periods(data)}{_filters(data)}{_totals(data)}{''.join(sections)}"
        '<p class="muted">Figures from the ledger\'s rollups, as <a href="docs">the API</a> reports them.</p>'
        "</main></body></html>"
    )


def _dashboard(context: ApiContext, _request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    now = datetime.now(UTC)
    view = dashboard_range(values, now)
    filters, only_user = filters_of(values), own_rows_only(caller)
    check_team_keys(context.teams, (), filters)  # a team filter needs LEDGER_TEAMS_FILE and a team it has
    with context.store.read() as conn:
        data = dashboard_data(
            conn,
            view,
            filters,
            only_user,
            Sections.of(caller),
            now=now,
            tz=context.settings.timezone,
            teams=context.teams,
            ptu=context.ptu_plan,
        )
    return ApiResponse(
        200,
        dashboard_html(data, caller).encode(),
        "text/html; charset=utf-8",
        {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
    )


register(
    Route(
        name="dashboard",
        method="GET",
        path="dashboard",
        roles=(USAGE_READ, USAGE_READ_ALL),
        params=DASHBOARD_PARAMS,
        handler=_dashboard,
        summary="Usage as a page for people: totals, tokens and cost per day, top users, subscriptions, apps and "
        "models by cost, quotas, recent alerts and open dead letters (Usage.Read: own usage only)",
        responses={"200": {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
    )
)
