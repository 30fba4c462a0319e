"""`DELETE /api/users/{id}/text`: erase one person's stored text, keep their numbers (Ledger.Admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.api.access import access_by
from shared.api.auth import LEDGER_ADMIN, Caller
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.reports.access_log import record_access
from shared.reports.erasure import erase_user_text

ERASED_SCHEMA = {
    "type": "object",
    "properties": {
        "user": {"type": "string"},
        "calls": {"type": "integer"},
        "pendingParts": {"type": "integer"},
        "deadLetters": {"type": "integer"},
    },
    "required": ["user", "calls", "pendingParts", "deadLetters"],
}


def _erase_user(context: ApiContext, request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    user = values["id"]
    with context.store.write(lock_wait=context.settings.api_write_wait_seconds) as conn:
        erased = erase_user_text(conn, user, datetime.now(UTC))
        record_access(conn, access_by(caller, request, "erase_user_text", user, erased.as_json()))
    return json_response({"user": user, **erased.as_json()})


register(
    Route(
        name="user_text_erase",
        method="DELETE",
        path="users/{id}/text",
        roles=(LEDGER_ADMIN,),
        params=(Param("id", "string", "the user's object id or name", location="path", required=True),),
        handler=_erase_user,
        summary="Erase the stored text of one user's calls (SQL, pending parts, dead letters); the numbers stay. Idempotent",
        responses={
            "200": {
                "description": "what was erased now (all 0 when it was already)",
                "content": {"application/json": {"schema": ERASED_SCHEMA}},
            }
        },
    )
)
