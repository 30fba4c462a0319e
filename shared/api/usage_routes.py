"""`GET /api/health` and `GET /api/usage`."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.api.auth import USAGE_READ, USAGE_READ_ALL, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register, store_unavailable
from shared.reports.csv_export import csv_text
from shared.reports.names import NAME_KEYS
from shared.reports.teams import TEAM_KEYS, Teams
from shared.reports.usage import FIGURES, FILTER_KEYS, GROUP_KEYS, UsageQuery, query_usage, usage_csv_columns
from shared.store.times import day_start, iso_utc

logger = logging.getLogger(__name__)
DEFAULT_RANGE = timedelta(days=30)
MAX_HOURLY_RANGE = timedelta(days=93)  # a quarter of hour buckets: ~2,200 per key
_STATUS = re.compile(r"[0-9]{1,3}")  # an HTTP status as the ledger stores it (0: no response); ASCII digits only

RANGE_PARAMS = (
    Param(
        "from",
        "time",
        "start of the range, inclusive (ISO-8601 UTC); default the start (00:00 UTC) of the day "
        f"{DEFAULT_RANGE.days} days before `to`, so the first day is whole",
    ),
    Param("to", "time", "end of the range, exclusive (ISO-8601 UTC); default now"),
)
FILTER_PARAMS = tuple(
    Param(key, "string", f"only calls whose {key} is this {'id or name' if key in NAME_KEYS else 'value'}")
    if key not in TEAM_KEYS
    else Param(key, "string", f"only calls whose {key} (LEDGER_TEAMS_FILE) is this; an unknown one is a 400")
    for key in FILTER_KEYS
)
USAGE_PARAMS = (
    *RANGE_PARAMS,
    Param(
        "groupBy",
        "enum-list",
        "comma-separated keys to group by (at most 3); with `hour`, the range may span at "
        f"most {MAX_HOURLY_RANGE.days} days",
        enum=GROUP_KEYS,
        default=(),
        max_items=3,
    ),
    *FILTER_PARAMS,
    Param("format", "enum", "response format", enum=("json", "csv"), default="json"),
)

# Beside a named key's id when grouped by it: the latest name the ledger has seen for that id, or null.
NAME_SCHEMA = {
    name: {"type": ["string", "null"], "description": f"the latest name seen for `{key}`, null when none"}
    for key, name in NAME_KEYS.items()
}
TEAMS_VERSION_SCHEMA = {
    "type": ["string", "null"],
    "description": "the version (a hash) of LEDGER_TEAMS_FILE that `team` and `costCenter` were mapped with; "
    "null when the setting is empty",
}
FIGURE_SCHEMA = {figure.name: {"type": ["number", "null"] if figure.nullable else "number"} for figure in FIGURES}
# Only when LEDGER_PTU_FILE is set (see the README's "Provisioned throughput").
PTU_RULE = (
    "Calls on a provisioned deployment have costUsd 0; each whole UTC hour it is provisioned costs its hourlyUsd, "
    "shared among that hour's calls on it in proportion to totalTokens. A range that cuts an hour: a call's share "
    "is its share of its whole hour (shares add up across ranges); an hour's idle cost counts where the hour starts."
)
PTU_ROW_SCHEMA = {
    "ptuCostUsd": {
        "type": "number",
        "description": f"only with LEDGER_PTU_FILE: the row's share of provisioned hours. {PTU_RULE}",
    },
    "chargebackUsd": {
        "type": ["number", "null"],
        "description": "only with LEDGER_PTU_FILE: costUsd + ptuCostUsd (null when costUsd is)",
    },
}
PTU_TOTALS_SCHEMA = {
    **PTU_ROW_SCHEMA,
    "ptuIdleCostUsd": {
        "type": ["number", "null"],
        "description": "only with LEDGER_PTU_FILE: the price of provisioned hours (starting in the range, on the "
        "deployments the deployment and backend filters select) whose calls used no tokens, charged to nobody; "
        "null for a Usage.Read caller (idle hours are everyone's)",
    },
}
USAGE_ROW_SCHEMA = {
    "type": "object",
    "properties": {
        **{key: {"type": ["string", "integer", "null"]} for key in GROUP_KEYS},
        **NAME_SCHEMA,
        **FIGURE_SCHEMA,
        **PTU_ROW_SCHEMA,
    },
    "required": ["requests", "totalTokens"],
}
USAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "groupBy": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": USAGE_ROW_SCHEMA},
        "totals": {"type": "object", "properties": {**FIGURE_SCHEMA, **PTU_TOTALS_SCHEMA}},
        "teamsVersion": TEAMS_VERSION_SCHEMA,
    },
    "required": ["from", "to", "groupBy", "rows", "totals", "teamsVersion"],
}


def time_range(values: dict[str, Any], *, hourly: bool = False) -> tuple[datetime, datetime]:
    """[from, to) of a request; hour buckets (a row per hour and key) only over MAX_HOURLY_RANGE, so the answer
    stays a few thousand buckets: day buckets and totals cost the same over any range (rollups and their sums)."""
    end = values.get("to") or datetime.now(UTC)
    # Whole UTC days by default: "the last 30 days" cut at the current hour would show a partial first day as
    # if usage had dropped. Parameters are within 1970-2200: no overflow.
    start = values.get("from") or day_start(end - DEFAULT_RANGE)
    if start >= end:
        raise ApiError(400, "Bad parameter", "from: must be before to", parameter="from")
    if hourly and end - start > MAX_HOURLY_RANGE:
        raise ApiError(
            400,
            "Bad parameter",
            f"from: hour buckets cover at most {MAX_HOURLY_RANGE.days} days; narrow the range or use day buckets",
            parameter="from",
        )
    return start, end


def filters_of(values: dict[str, Any]) -> dict[str, str]:
    filters = {key: values[key] for key in FILTER_KEYS if values.get(key) is not None}
    if "status" in filters and not _STATUS.fullmatch(filters["status"]):
        raise ApiError(400, "Bad parameter", "status: must be an HTTP status code such as 429", parameter="status")
    return filters


def usage_query(
    context: ApiContext, values: dict[str, Any], start: datetime, end: datetime, caller: Caller | None
) -> UsageQuery:
    """The report a request asks for, with the app's teams; a team key without a teams file, or a team or cost
    centre the file does not have, is a 400 (an empty answer would look like a team without calls)."""
    group_by, filters = tuple(values["groupBy"]), filters_of(values)
    check_team_keys(context.teams, group_by, filters)
    return UsageQuery(start, end, group_by, filters, own_rows_only(caller), teams=context.teams, ptu=context.ptu_plan)


def check_team_keys(
    teams: Teams | None, group_by: tuple[str, ...], filters: dict[str, str], parameter: str | None = None
) -> None:
    """A 400 for a team key without LEDGER_TEAMS_FILE, or a team or cost centre the file does not have."""
    named = parameter
    for key in TEAM_KEYS:
        parameter = named or (key if key in filters else "groupBy")
        if teams is None and (key in group_by or key in filters):
            raise ApiError(
                400,
                "Bad parameter",
                f"{parameter}: LEDGER_TEAMS_FILE is not set, so no call has a {key}; set it to a teams file",
                parameter=parameter,
            )
        if teams is not None and key in filters and not teams.known(key, filters[key]):
            known = teams.names if key == "team" else teams.cost_centers
            shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            raise ApiError(
                400,
                "Bad parameter",
                f"{parameter}: LEDGER_TEAMS_FILE (version {teams.version}) has no {key} {filters[key][:60]!r}; "
                f"it has {shown}",
                parameter=parameter,
            )


def teams_version(context: ApiContext) -> str | None:
    return context.teams.version if context.teams is not None else None


def with_teams_version(
    context: ApiContext, columns: list[str], rows: list[dict[str, Any]], group_by: tuple[str, ...]
) -> tuple[list[str], list[dict[str, Any]]]:
    """CSV columns and rows with `teamsVersion` last when grouped by a team key: the file keeps its mapping."""
    if not any(key in TEAM_KEYS for key in group_by):
        return columns, rows
    version = teams_version(context)
    return [*columns, "teamsVersion"], [row | {"teamsVersion": version} for row in rows]


def own_rows_only(caller: Caller | None) -> str | None:
    """A Usage.Read caller is limited to its own object id; without one it can see nothing."""
    if caller is None or caller.sees_all_usage:
        return None
    if not caller.user_id:
        raise ApiError(
            403, "Forbidden", "Usage.Read shows your own usage, but your identity carries no object id (oid)"
        )
    return caller.user_id


def _health(context: ApiContext, _request: ApiRequest, _caller: Caller | None, _values: dict[str, Any]) -> ApiResponse:
    try:
        context.store.ping()
    except Exception as exc:  # noqa: BLE001 - the probe must say why the store fails, whatever it raises, not crash
        logger.warning("health: the store does not answer: %s", exc)
        return store_unavailable("health", exc)
    return json_response({"status": "healthy", "store": "reachable"})


def _usage(context: ApiContext, _request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    start, end = time_range(values, hourly="hour" in values["groupBy"])
    query = usage_query(context, values, start, end, caller)
    with context.store.read() as conn:
        result = query_usage(conn, query)
    if values["format"] == "csv":
        columns = usage_csv_columns(query.group_by, ptu=query.ptu is not None)
        return csv_response(*with_teams_version(context, columns, result.rows, query.group_by))
    return json_response(
        {
            "from": iso_utc(start),
            "to": iso_utc(end),
            "groupBy": list(query.group_by),
            "rows": result.rows,
            "totals": result.totals,
            "teamsVersion": teams_version(context),
        }
    )


def csv_response(columns: list[str], rows: list[dict[str, Any]]) -> ApiResponse:
    return ApiResponse(200, csv_text(columns, rows).encode(), "text/csv; charset=utf-8")


register(
    Route(
        name="health",
        method="GET",
        path="health",
        roles=None,
        params=(),
        handler=_health,
        summary="Liveness and store reachability (the Application Gateway probe)",
        responses={
            "200": {"description": "healthy", "content": {"application/json": {"schema": {"type": "object"}}}},
            "503": {
                "description": "the store is unreachable",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        },
    )
)
register(
    Route(
        name="usage",
        method="GET",
        path="usage",
        roles=(USAGE_READ, USAGE_READ_ALL),
        params=USAGE_PARAMS,
        handler=_usage,
        summary="Usage totals grouped by up to three keys (Usage.Read: own rows only)",
        responses={
            "200": {
                "description": "usage rows and totals",
                "content": {"application/json": {"schema": USAGE_SCHEMA}, "text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
)
