"""`GET /api/deadletters` and `POST /api/deadletters/{id}/retry` (Ledger.Admin)."""

from __future__ import annotations

from typing import Any

from shared.api.auth import LEDGER_ADMIN, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, json_response
from shared.api.params import Param, cursor_id, id_cursor
from shared.api.routes import ApiContext, Route, register
from shared.reports.deadletters import STATUSES, list_dead_letters, retry_dead_letter

LIST_PARAMS = (
    Param("status", "enum", "only letters in this state", enum=STATUSES),
    Param("limit", "int", "items per page", default=100, minimum=1, maximum=1000),
    Param("cursor", "string", "`nextCursor` of the previous page; omit for the first page"),
)
_NULLABLE = {"type": ["string", "null"]}
LETTER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "receivedAt": {"type": "string", "format": "date-time"},
        "eventId": _NULLABLE,
        "source": _NULLABLE,
        "reason": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "size": {"type": "integer"},
        "preview": {"type": "string", "description": "the start of the raw bytes, non-printables as '.'"},
        "callId": _NULLABLE,
        "resolvedAt": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["id", "receivedAt", "eventId", "source", "reason", "status", "size", "preview"],
}
RETRY_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "outcome": {"type": "string", "enum": ["recorded", "duplicate", "pending", "ignored", "dead"]},
        "status": {"type": "string", "enum": list(STATUSES)},
        "callId": _NULLABLE,
        "reason": {"type": "string"},
    },
    "required": ["id", "outcome", "status", "callId", "reason"],
}


def _list(context: ApiContext, _request: ApiRequest, _caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    before = cursor_id("cursor", values["cursor"]) if values["cursor"] else None
    with context.store.read() as conn:
        page = list_dead_letters(conn, limit=values["limit"], before_id=before, status=values["status"])
    cursor = id_cursor(page.next_after_id) if page.next_after_id is not None else None
    return json_response({"items": page.items, "nextCursor": cursor})


def _retry(context: ApiContext, _request: ApiRequest, _caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    outcome = retry_dead_letter(context.store, context.ingestor, values["id"])
    if outcome is None:
        raise ApiError(404, "Not Found", f"no dead letter with id {values['id']}")
    return json_response(outcome.as_json())


register(
    Route(
        name="deadletters",
        method="GET",
        path="deadletters",
        roles=(LEDGER_ADMIN,),
        params=LIST_PARAMS,
        handler=_list,
        summary="Events that could not be ingested, with the reason, newest first",
        responses={
            "200": {
                "description": "one page of dead letters",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": LETTER_SCHEMA}, "nextCursor": _NULLABLE},
                            "required": ["items", "nextCursor"],
                        }
                    }
                },
            }
        },
    )
)
register(
    Route(
        name="deadletter_retry",
        method="POST",
        path="deadletters/{id}/retry",
        roles=(LEDGER_ADMIN,),
        params=(
            Param("id", "int", "the dead letter's id", location="path", required=True, minimum=1, maximum=2**31 - 1),
        ),
        handler=_retry,
        summary="Re-drive one dead letter's bytes through the current parser; resolves it when they now make a call",
        responses={
            "200": {"description": "what the retry did", "content": {"application/json": {"schema": RETRY_SCHEMA}}}
        },
    )
)
