"""`DELETE /api/users/{id}/text` and `DELETE /api/endusers/{id}/text`: erase one person's stored text, keep
their numbers (Ledger.Admin)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from shared.api.access import access_by
from shared.api.auth import LEDGER_ADMIN, Caller
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Handler, Route, register
from shared.reports.access_log import record_access
from shared.reports.erasure import Erased, erase_end_user_text, erase_user_text

_COUNTS = {"calls": {"type": "integer"}, "pendingParts": {"type": "integer"}, "deadLetters": {"type": "integer"}}


def _erased_schema(key: str) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "string"}, **_COUNTS}, "required": [key, *_COUNTS]}


def _eraser(key: str, action: str, erase: Callable[[Connection, str, datetime], Erased]) -> Handler:
    """A handler erasing the text of the person the path names; the erasure goes on the audit log with it."""

    def handler(context: ApiContext, request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
        person = values["id"]
        with context.store.write(lock_wait=context.settings.api_write_wait_seconds) as conn:
            erased = erase(conn, person, datetime.now(UTC))
            record_access(conn, access_by(caller, request, action, person, erased.as_json()))
        return json_response({key: person, **erased.as_json()})

    return handler


def _register(
    name: str,
    path: str,
    key: str,
    action: str,
    erase: Callable[[Connection, str, datetime], Erased],
    who: str,
    summary: str,
) -> None:
    register(
        Route(
            name=name,
            method="DELETE",
            path=path,
            roles=(LEDGER_ADMIN,),
            params=(Param("id", "string", who, location="path", required=True),),
            handler=_eraser(key, action, erase),
            summary=summary,
            responses={
                "200": {
                    "description": "what was erased now (all 0 when it was already)",
                    "content": {"application/json": {"schema": _erased_schema(key)}},
                }
            },
        )
    )


_register(
    "user_text_erase",
    "users/{id}/text",
    "user",
    "erase_user_text",
    erase_user_text,
    "the user's object id or name",
    "Erase the stored text of one user's calls (SQL, pending parts, dead letters); the numbers stay. Idempotent",
)
_register(
    "enduser_text_erase",
    "endusers/{id}/text",
    "endUser",
    "erase_enduser_text",
    erase_end_user_text,
    "the end user as the app named them (`endUser`: the request body's `safety_identifier` or `user`)",
    "Erase the stored text of the calls an app made for one end user (SQL, pending parts, dead letters); "
    "the numbers stay. Idempotent",
)
