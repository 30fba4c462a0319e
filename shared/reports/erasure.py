"""Erasure on request: one person's stored text goes, their numbers stay. A person is a user (APIM's caller)
or an end user (the app's own user, the call's `endUser`).

Everywhere the ledger keeps text of a call: the payload row (text, parameters, tool calls, filter results, raw
bodies: set to NULL and marked `purged_at`), pending parts and dead letters (the raw event's request and
response bodies set to null; the rest of the event, caller and numbers, stays so it still replays). ADX keeps
its own copy: the README gives the purge command. Erasing twice finds nothing the second time (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, or_, select, update

from shared.ingest.payloads.request import end_user_of
from shared.ingest.values import load_json
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts
from shared.store.times import naive_utc

TEXT_COLUMNS = (
    "request_params",
    "prompt_text",
    "completion_text",
    "tool_calls",
    "content_filter",
    "request_body",
    "response_body",
)
_CHUNK = 500  # ids per statement: well under every engine's parameter limit


@dataclass
class Erased:
    calls: int = 0  # calls whose stored text was erased now
    pending_parts: int = 0
    dead_letters: int = 0

    def as_json(self) -> dict[str, int]:
        return {"calls": self.calls, "pendingParts": self.pending_parts, "deadLetters": self.dead_letters}


def purge_payloads(conn: Connection, call_ids: list[str], now: datetime) -> int:
    """Drop the text of these calls (already purged ones are left alone); how many were purged now."""
    purged = 0
    for start in range(0, len(call_ids), _CHUNK):
        chunk = call_ids[start : start + _CHUNK]
        purged += conn.execute(
            update(call_payloads)
            .where(call_payloads.c.call_id.in_(chunk), call_payloads.c.purged_at.is_(None))
            .values(dict.fromkeys(TEXT_COLUMNS) | {"purged_at": naive_utc(now)})
        ).rowcount
    return purged


def erase_user_text(conn: Connection, user: str, now: datetime) -> Erased:
    """Erase the stored text of every call of `user` (an object id or a user name)."""
    whose = or_(calls.c.user_id == user, calls.c.user_name == user)
    return _erase(conn, whose, lambda doc: _caller_is(doc, user), orjson.dumps(user), now)


def erase_end_user_text(conn: Connection, end_user: str, now: datetime) -> Erased:
    """Erase the stored text of every call an app made for `end_user` (the call's `endUser`: the request
    body's `safety_identifier` or `user`)."""
    # Raw events hold the end user inside the request body, itself a JSON string (escaped once more, perhaps
    # with \u escapes): no byte needle finds it reliably, so every raw event is read.
    return _erase(conn, calls.c.end_user == end_user, lambda doc: _end_user_is(doc, end_user), None, now)


def _erase(conn: Connection, whose, belongs: Callable[[dict], bool], needle: bytes | None, now: datetime) -> Erased:
    """Erase the text of the calls `whose` selects, and the bodies of the raw events that `belongs` claims."""
    erased = Erased()
    call_ids = list(conn.execute(select(calls.c.call_id).where(whose)).scalars())
    erased.calls = purge_payloads(conn, call_ids, now)
    erased.pending_parts = _erase_raw(
        conn,
        pending_parts,
        (pending_parts.c.kind, pending_parts.c.part_key, pending_parts.c.part),
        pending_parts.c.payload,
        belongs,
        needle,
    )
    erased.dead_letters = _erase_raw(conn, dead_letters, (dead_letters.c.id,), dead_letters.c.raw, belongs, needle)
    return erased


def _erase_raw(
    conn: Connection, table, key_columns, raw_column, belongs: Callable[[dict], bool], needle: bytes | None
) -> int:
    """Raw events that `belongs` claims (only those holding `needle`, when given), without their bodies."""
    erased = 0
    for row in conn.execute(select(*key_columns, raw_column)).all():
        raw = bytes(row[-1])
        if needle is not None and needle not in raw:
            continue
        stripped = without_bodies(raw, belongs)
        if stripped is not None:
            conn.execute(
                update(table)
                .where(*[c == v for c, v in zip(key_columns, row[:-1], strict=True)])
                .values({raw_column.name: stripped})
            )
            erased += 1
    return erased


def _caller_is(doc: dict, user: str) -> bool:
    """A capture/v1 event of `user`: `caller.userId` or `caller.userName`."""
    caller = doc.get("caller")
    return isinstance(caller, dict) and user in (caller.get("userId"), caller.get("userName"))


def _end_user_is(doc: dict, end_user: str) -> bool:
    """A capture/v1 event whose request body names `end_user`, as ingest reads it."""
    request = doc.get("request")
    return isinstance(request, dict) and end_user_of(load_json(request.get("body"))) == end_user


def without_bodies(raw: bytes, belongs: Callable[[dict], bool] | None = None) -> bytes | None:
    """The raw event with its request and response bodies nulled (only when `belongs` claims it, if given);
    None when there is nothing to erase (not such an event, someone else's, bodies already gone)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or (belongs is not None and not belongs(doc)):
        return None
    changed = False
    for side in ("request", "response"):
        part = doc.get(side)
        if isinstance(part, dict) and part.get("body") not in (None, False):
            part["body"] = None
            changed = True
    return orjson.dumps(doc) if changed else None
