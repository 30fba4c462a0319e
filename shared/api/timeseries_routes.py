"""`GET /api/usage/timeseries`: the usage figures per hour or per day, from the rollups."""

from __future__ import annotations

from typing import Any

from shared.api.auth import USAGE_READ, USAGE_READ_ALL, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import (
    FIGURE_SCHEMA,
    FILTER_PARAMS,
    MAX_HOURLY_RANGE,
    NAME_SCHEMA,
    PTU_ROW_SCHEMA,
    PTU_TOTALS_SCHEMA,
    RANGE_PARAMS,
    TEAMS_VERSION_SCHEMA,
    csv_response,
    teams_version,
    time_range,
    usage_query,
    with_teams_version,
)
from shared.reports.usage import (
    GROUP_KEYS,
    INTERVALS,
    TIME_KEYS,
    SeriesTooLarge,
    query_timeseries,
    timeseries_csv_columns,
)
from shared.store.times import iso_utc

SERIES_KEYS = tuple(key for key in GROUP_KEYS if key not in TIME_KEYS)  # the interval is the time key
TIMESERIES_PARAMS = (
    *RANGE_PARAMS,
    Param(
        "interval",
        "enum",
        f"bucket size; `hour` over at most {MAX_HOURLY_RANGE.days} days",
        enum=INTERVALS,
        default="day",
    ),
    Param(
        "groupBy",
        "enum-list",
        "comma-separated keys to group each bucket by (at most 3)",
        enum=SERIES_KEYS,
        default=(),
        max_items=3,
    ),
    *FILTER_PARAMS,
    Param("format", "enum", "response format", enum=("json", "csv"), default="json"),
)
SERIES_ROW_SCHEMA = {
    "type": "object",
    "properties": {
        "time": {"type": "string", "format": "date-time", "description": "start of the bucket"},
        **{key: {"type": ["string", "integer", "null"]} for key in SERIES_KEYS},
        **NAME_SCHEMA,
        **FIGURE_SCHEMA,
        **PTU_ROW_SCHEMA,
    },
    "required": ["time", "requests", "totalTokens"],
}
TIMESERIES_SCHEMA = {
    "type": "object",
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "interval": {"type": "string", "enum": list(INTERVALS)},
        "groupBy": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": SERIES_ROW_SCHEMA},
        "totals": {"type": "object", "properties": {**FIGURE_SCHEMA, **PTU_TOTALS_SCHEMA}},
        "teamsVersion": TEAMS_VERSION_SCHEMA,
    },
    "required": ["from", "to", "interval", "groupBy", "rows", "totals", "teamsVersion"],
}


def _timeseries(
    context: ApiContext, _request: ApiRequest, caller: Caller | None, values: dict[str, Any]
) -> ApiResponse:
    start, end = time_range(values, hourly=values["interval"] == "hour")
    query = usage_query(context, values, start, end, caller)
    try:
        with context.store.read() as conn:
            result = query_timeseries(conn, query, values["interval"])
    except SeriesTooLarge as exc:
        raise ApiError(400, "Bad parameter", f"from: {exc}", parameter="from") from None
    if values["format"] == "csv":
        columns = timeseries_csv_columns(query.group_by, ptu=query.ptu is not None)
        return csv_response(*with_teams_version(context, columns, result.rows, query.group_by))
    return json_response(
        {
            "from": iso_utc(start),
            "to": iso_utc(end),
            "interval": values["interval"],
            "groupBy": list(query.group_by),
            "rows": result.rows,
            "totals": result.totals,
            "teamsVersion": teams_version(context),
        }
    )


register(
    Route(
        name="usage_timeseries",
        method="GET",
        path="usage/timeseries",
        roles=(USAGE_READ, USAGE_READ_ALL),
        params=TIMESERIES_PARAMS,
        handler=_timeseries,
        summary="Usage per hour or day, optionally grouped by up to three keys (Usage.Read: own rows only)",
        responses={
            "200": {
                "description": "one row per bucket of the range (with groupBy: per bucket and key combination "
                "seen in the range); buckets without calls have zero counts and null costUsd "
                "and avgDurationMs",
                "content": {
                    "application/json": {"schema": TIMESERIES_SCHEMA},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
)
