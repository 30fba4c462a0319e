"""`GET /api/ptu`: the provisioned (PTU) deployments of `LEDGER_PTU_FILE` over a range (Usage.ReadAll)."""

from __future__ import annotations

from typing import Any

from shared.api.auth import USAGE_READ_ALL, Caller
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import PTU_RULE, RANGE_PARAMS, csv_response, time_range
from shared.reports.ptu_report import ptu_items
from shared.store.times import iso_utc

PTU_COLUMNS = (
    "deployment",
    "backend",
    "ptu",
    "hours",
    "costUsd",
    "totalTokens",
    "allocatedUsd",
    "idleUsd",
    "peakTokensPerMinute",
)
PTU_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "deployment": {"type": "string"},
        "backend": {"type": ["string", "null"], "description": "null: any backend"},
        "ptu": {"type": "integer", "description": "provisioned throughput units"},
        "hours": {"type": "integer", "description": "provisioned hours starting in the range"},
        "costUsd": {"type": "number", "description": "hours x hourlyUsd"},
        "totalTokens": {"type": "integer", "description": "tokens of its calls in the range"},
        "allocatedUsd": {"type": "number", "description": "what its calls in the range were charged (ptuCostUsd)"},
        "idleUsd": {"type": "number", "description": "the price of its hours without tokens, charged to nobody"},
        "peakTokensPerMinute": {"type": "integer", "description": "the most tokens in one UTC minute of the range"},
    },
    "required": list(PTU_COLUMNS),
}
PTU_SCHEMA = {
    "type": "object",
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "items": {"type": "array", "items": PTU_ITEM_SCHEMA},
    },
    "required": ["from", "to", "items"],
}


def _ptu(context: ApiContext, _request: ApiRequest, _caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    start, end = time_range(values)
    items: list[dict[str, Any]] = []
    if context.ptu_plan is not None:
        with context.store.read() as conn:
            items = ptu_items(conn, context.ptu_plan, start, end)
    if values["format"] == "csv":
        return csv_response(list(PTU_COLUMNS), items)
    return json_response({"from": iso_utc(start), "to": iso_utc(end), "items": items})


register(
    Route(
        name="ptu",
        method="GET",
        path="ptu",
        roles=(USAGE_READ_ALL,),
        params=(*RANGE_PARAMS, Param("format", "enum", "response format", enum=("json", "csv"), default="json")),
        handler=_ptu,
        summary="Provisioned (PTU) deployments: hours, cost, tokens, allocated and idle cost, peak tokens per minute",
        responses={
            "200": {
                "description": "one item per entry of LEDGER_PTU_FILE whose window meets the range (none when "
                f"the setting is empty). {PTU_RULE} Over whole hours, costUsd = allocatedUsd + idleUsd.",
                "content": {"application/json": {"schema": PTU_SCHEMA}, "text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
)
