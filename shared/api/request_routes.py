"""`GET /api/requests` (the audit list) and `GET /api/requests/{id}` (one call in full)."""

from __future__ import annotations

from typing import Any

from shared.api.access import access_by, log_access
from shared.api.auth import AUDIT_READ, USAGE_READ, USAGE_READ_ALL, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, BadParameter, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import (
    FILTER_PARAMS,
    RANGE_PARAMS,
    check_team_keys,
    filters_of,
    own_rows_only,
    time_range,
)
from shared.reports.audit import LIST_FIELDS, AuditQuery, BadCursor, Cursor, call_detail, list_calls

PAGE_PARAMS = (
    Param("limit", "int", "items per page", default=100, minimum=1, maximum=1000),
    Param("cursor", "string", "`nextCursor` of the previous page; omit for the first page"),
)
REQUESTS_PARAMS = (*RANGE_PARAMS, *FILTER_PARAMS, *PAGE_PARAMS)

_NULLABLE = {"type": ["string", "null"]}
LIST_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "requestId": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "operation": {"type": "string"},
        "deployment": _NULLABLE,
        "model": _NULLABLE,
        "user": _NULLABLE,
        "userName": _NULLABLE,
        "subscription": _NULLABLE,
        "subscriptionName": _NULLABLE,
        "app": _NULLABLE,
        "endUser": _NULLABLE,
        "ip": _NULLABLE,
        "status": {"type": "integer"},
        "durationMs": {"type": ["number", "null"]},
        "promptTokens": {"type": "integer"},
        "completionTokens": {"type": "integer"},
        "totalTokens": {"type": "integer"},
        "costUsd": {"type": ["number", "null"]},
        "streamed": {"type": "boolean"},
        "tokensEstimated": {"type": "boolean"},
    },
    "required": list(LIST_FIELDS),
}
REQUESTS_SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": LIST_ITEM_SCHEMA}, "nextCursor": _NULLABLE},
    "required": ["items", "nextCursor"],
}
_ANY_JSON = {"type": ["object", "array", "string", "number", "integer", "boolean", "null"]}
DETAIL_SCHEMA = {
    "type": "object",
    "properties": {
        **LIST_ITEM_SCHEMA["properties"],
        "request": {"type": ["object", "null"]},
        "promptText": _NULLABLE,
        "completionText": _NULLABLE,
        "finishReason": _NULLABLE,
        "toolCalls": {"type": ["array", "null"]},
        "contentFilter": _ANY_JSON,
        "cachedTokens": {"type": "integer"},
        "reasoningTokens": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "bodyMissing": {"type": "boolean"},
        "streamIncomplete": {"type": "boolean"},
        "textPurged": {
            "type": "boolean",
            "description": "retention or an erasure dropped this call's text; the numbers stay",
        },
        "redactions": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "what masking before storage replaced, per kind: secret, email, phone, card, iban, ip",
        },
    },
    "required": [
        *LIST_FIELDS,
        "request",
        "promptText",
        "completionText",
        "finishReason",
        "toolCalls",
        "contentFilter",
        "cachedTokens",
        "reasoningTokens",
        "truncated",
    ],
}


def _requests(context: ApiContext, _request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    start, end = time_range(values)
    try:
        cursor = Cursor.decode(values["cursor"]) if values["cursor"] else None
    except BadCursor as exc:
        raise BadParameter("cursor", str(exc)) from None
    filters = filters_of(values)
    check_team_keys(context.teams, (), filters)
    query = AuditQuery(start, end, filters, own_rows_only(caller), values["limit"], cursor, teams=context.teams)
    with context.store.read() as conn:
        page = list_calls(conn, query)
    return json_response({"items": page.items, "nextCursor": page.next_cursor.encode() if page.next_cursor else None})


def _request_detail(
    context: ApiContext, request: ApiRequest, caller: Caller | None, values: dict[str, Any]
) -> ApiResponse:
    with context.store.read() as conn:
        detail = call_detail(conn, values["id"])
    if detail is None:
        raise ApiError(404, "Not Found", f"no call with id {values['id'][:64]!r}")
    # The text is handed out only once its read is on the record (who read what, GET /api/audit-log).
    log_access(context, access_by(caller, request, "read_text", values["id"]))
    return json_response(detail)


register(
    Route(
        name="requests",
        method="GET",
        path="requests",
        roles=(USAGE_READ, USAGE_READ_ALL),
        params=REQUESTS_PARAMS,
        handler=_requests,
        summary="The audit list: call metadata, newest first, cursor-paginated (Usage.Read: own calls only)",
        responses={
            "200": {"description": "one page of calls", "content": {"application/json": {"schema": REQUESTS_SCHEMA}}}
        },
    )
)
register(
    Route(
        name="request_detail",
        method="GET",
        path="requests/{id}",
        roles=(AUDIT_READ,),
        params=(Param("id", "string", "the call id (`requestId`)", location="path", required=True),),
        handler=_request_detail,
        summary="One call in full: parameters, prompt and completion text, tool calls, content filter results",
        responses={"200": {"description": "the call", "content": {"application/json": {"schema": DETAIL_SCHEMA}}}},
    )
)
