"""Who read what: entries of the access log, written beside the action they record, and read page by page.

An entry is written in its own short transaction right after the read it records (a text read happens on a
read connection), or in the same transaction as a change (an erasure, a quota change), so a change is never
without its entry. Pages go newest first by (at, id) with an opaque cursor, as `GET /api/requests` does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, or_, select

from shared.store.bounds import text_limits
from shared.store.schema_privacy import access_log
from shared.store.times import iso_utc, naive_utc, stored_time

_MAX_TEXT = {name: limit.length for name, limit in text_limits(access_log).items()}


@dataclass(frozen=True)
class Access:
    actor: str
    action: str
    target: str
    client_ip: str | None = None
    detail: dict[str, Any] | None = None


def record_access(conn: Connection, access: Access, *, now: datetime | None = None) -> None:
    moment = naive_utc(now or datetime.now(UTC))
    detail = None if access.detail is None else orjson.dumps(access.detail).decode()
    values = {
        "actor": access.actor,
        "action": access.action,
        "target": access.target,
        "client_ip": access.client_ip,
        "detail": detail,
    }
    fitted = {k: (v[: _MAX_TEXT[k]] if isinstance(v, str) and k in _MAX_TEXT else v) for k, v in values.items()}
    conn.execute(access_log.insert().values(at=moment, **fitted))


class BadAccessCursor(ValueError):
    """The cursor is not one this API handed out."""


def encode_cursor(at: datetime, entry_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"t": at.isoformat(), "id": entry_id})).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        entry_id = doc["id"]
        if not isinstance(entry_id, int) or isinstance(entry_id, bool) or not 0 < entry_id < 2**31:
            raise ValueError(entry_id)
        return naive_utc(datetime.fromisoformat(doc["t"])), entry_id
    except (binascii.Error, KeyError, TypeError, ValueError, OverflowError):
        raise BadAccessCursor("not a cursor this API handed out; start again without one") from None


def list_access(
    conn: Connection, start: datetime, end: datetime, limit: int, cursor: tuple[datetime, int] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of entries in [start, end), newest first, and the cursor of the next page (None at the end)."""
    query = select(access_log).where(access_log.c.at >= naive_utc(start), access_log.c.at < naive_utc(end))
    if cursor is not None:
        at, entry_id = cursor
        query = query.where(or_(access_log.c.at < at, and_(access_log.c.at == at, access_log.c.id < entry_id)))
    rows = (
        conn.execute(query.order_by(access_log.c.at.desc(), access_log.c.id.desc()).limit(limit + 1)).mappings().all()
    )
    items = [
        {
            "id": row["id"],
            "time": iso_utc(stored_time(row["at"])),
            "actor": row["actor"],
            "action": row["action"],
            "target": row["target"],
            "clientIp": row["client_ip"],
            "detail": None if row["detail"] is None else orjson.loads(row["detail"]),
        }
        for row in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, (encode_cursor(stored_time(last["at"]), last["id"]) if last is not None else None)
