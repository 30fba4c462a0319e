"""What could not be ingested: listing dead letters, and re-driving one through the current parser.

A retry feeds the letter's raw bytes to the ingest use case exactly as a fresh event (so a parser fixed since
reads it), then marks the letter `resolved` with the call it became. Ingest keeps dead letters once per hash,
so a retry that still fails adds no second letter; it refreshes the reason instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from shared.ingest.batch import Ingestor
from shared.ingest.redaction import redact_text
from shared.ingest.types import IncomingEvent
from shared.store.bounds import bound_record, fit
from shared.store.schema import dead_letters
from shared.store.sql import SqlStore
from shared.store.times import iso_utc, naive_utc

logger = logging.getLogger(__name__)

STATUSES = ("open", "salvaged", "resolved")
PREVIEW_BYTES = 160


@dataclass
class LetterPage:
    items: list[dict[str, Any]]
    next_after_id: int | None  # the cursor: the last id of this page (ids only grow, newest first)


def preview(raw: bytes, width: int = PREVIEW_BYTES) -> str:
    """The start of the raw bytes as one printable line: undecodable bytes and control characters become '.'."""
    text = raw[:width].decode("utf-8", errors="replace")
    shown = "".join(ch if ch.isprintable() and ch != "\ufffd" else "." for ch in text)
    return shown + ("…" if len(raw) > width else "")


def list_dead_letters(
    conn: Connection, *, limit: int = 100, before_id: int | None = None, status: str | None = None
) -> LetterPage:
    conditions = []
    if before_id is not None:
        conditions.append(dead_letters.c.id < before_id)
    if status is not None:
        conditions.append(dead_letters.c.status == status)
    columns = [c for c in dead_letters.columns if c.name not in ("raw", "raw_sha256")]
    # Only the head of the bytes travels; SQL Server spells the byte functions its own way.
    mssql = conn.dialect.name == "mssql"
    size = (func.datalength if mssql else func.length)(dead_letters.c.raw)
    head = (func.substring if mssql else func.substr)(dead_letters.c.raw, 1, PREVIEW_BYTES)
    statement = (
        select(*columns, size.label("size"), head.label("head"))
        .where(*conditions)
        .order_by(dead_letters.c.id.desc())
        .limit(limit + 1)
    )
    rows = conn.execute(statement).mappings().all()
    page = rows[:limit]
    items = [
        {
            "id": row["id"],
            "receivedAt": iso_utc(row["received_at"]),
            "eventId": row["event_id"],
            "source": row["source"],
            "reason": row["reason"],
            "status": row["status"],
            "size": int(row["size"] or 0),
            "preview": preview(bytes(row["head"] or b"")) + ("…" if (row["size"] or 0) > PREVIEW_BYTES else ""),
            "callId": row["call_id"],
            "resolvedAt": iso_utc(row["resolved_at"]) if row["resolved_at"] else None,
        }
        for row in page
    ]
    return LetterPage(items, page[-1]["id"] if len(rows) > limit else None)


def count_dead_letters(conn: Connection, status: str) -> int:
    """How many letters are in `status` (the dashboard's "open dead letters")."""
    return int(
        conn.execute(select(func.count()).select_from(dead_letters).where(dead_letters.c.status == status)).scalar_one()
    )


@dataclass
class RetryOutcome:
    id: int
    outcome: str  # recorded | duplicate | pending | ignored | dead
    status: str  # the letter's status afterwards
    call_id: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "status": self.status,
            "callId": self.call_id,
            "reason": self.reason,
        }


def retry_dead_letter(store: SqlStore, ingestor: Ingestor, letter_id: int) -> RetryOutcome | None:
    """Re-drive one dead letter through the current parser; None when there is no such letter."""
    with store.read() as conn:
        letter = conn.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).mappings().first()
    if letter is None:
        return None
    event = IncomingEvent(body=bytes(letter["raw"]), source=letter["source"])
    decoded = ingestor.decode_event(event)  # side-effect free: tells which calls the bytes now yield
    report = ingestor.ingest_batch([event])
    call_ids = [record.call_id for record, _ in decoded.records]
    still_dead = [d for d in decoded.dead if not d.truncated_call_id]
    if still_dead:
        outcome, status, reason = "dead", letter["status"], redact_text(still_dead[0].reason)[:1024]
    elif report.recorded or report.duplicates:
        outcome = "recorded" if report.recorded else "duplicate"
        status, reason = ("salvaged" if decoded.dead else "resolved"), letter["reason"]
    elif report.pending:
        outcome, status, reason = "pending", letter["status"], letter["reason"]
    elif report.dead_lettered:  # read now, but the call cannot be stored (shared.store.bounds) or the store refused it
        now = ingestor.clock()
        refusals = [r for r in (bound_record(record, now=now) for record, _ in decoded.records) if r]
        outcome, status, reason = "dead", letter["status"], refusals[0] if refusals else letter["reason"]
    else:  # the current parser reads it and finds nothing for the ledger in it
        outcome, status, reason = "ignored", "resolved", letter["reason"]
    call_id = call_ids[0] if call_ids else letter["call_id"]
    now = naive_utc(datetime.now(UTC))
    with store.write() as conn:
        conn.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter_id)
            .values(
                status=status,
                reason=fit(reason, dead_letters.c.reason),
                call_id=call_id,
                resolved_at=now if status == "resolved" else letter["resolved_at"],
            )
        )
    logger.info("dead letter %s retried: %s (call %s, status %s)", letter_id, outcome, call_id, status)
    return RetryOutcome(letter_id, outcome, status, call_id, reason)
