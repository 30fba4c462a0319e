"""`GET /api/audit-log`: who read prompt/completion text, who erased it, who changed a quota (Ledger.Admin)."""

from __future__ import annotations

from typing import Any

from shared.api.auth import LEDGER_ADMIN, Caller
from shared.api.http import ApiRequest, ApiResponse, BadParameter, json_response
from shared.api.request_routes import PAGE_PARAMS
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import RANGE_PARAMS, time_range
from shared.reports.access_log import BadAccessCursor, decode_cursor, list_access

_NULLABLE = {"type": ["string", "null"]}
ENTRY_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "time": {"type": "string", "format": "date-time"},
        "actor": {"type": "string", "description": "the caller's object id (or name)"},
        "action": {
            "type": "string",
            "enum": ["read_text", "erase_user_text", "erase_enduser_text", "quota_put", "quota_delete"],
        },
        "target": {"type": "string", "description": "the call id, the user or end user, or `scopeType/scopeId`"},
        "clientIp": _NULLABLE,
        "detail": {"type": ["object", "null"]},
    },
    "required": ["id", "time", "actor", "action", "target", "clientIp", "detail"],
}


def _audit_log(
    context: ApiContext, _request: ApiRequest, _caller: Caller | None, values: dict[str, Any]
) -> ApiResponse:
    start, end = time_range(values)
    try:
        cursor = decode_cursor(values["cursor"]) if values["cursor"] else None
    except BadAccessCursor as exc:
        raise BadParameter("cursor", str(exc)) from None
    with context.store.read() as conn:
        items, next_cursor = list_access(conn, start, end, values["limit"], cursor)
    return json_response({"items": items, "nextCursor": next_cursor})


register(
    Route(
        name="audit_log",
        method="GET",
        path="audit-log",
        roles=(LEDGER_ADMIN,),
        params=(*RANGE_PARAMS, *PAGE_PARAMS),
        handler=_audit_log,
        summary="Who read prompt/completion text, erased text or changed a quota: newest first, cursor-paginated",
        responses={
            "200": {
                "description": "one page of entries",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": ENTRY_SCHEMA}, "nextCursor": _NULLABLE},
                            "required": ["items", "nextCursor"],
                        }
                    }
                },
            }
        },
    )
)
