"""Everything ingest writes, inside the caller's transaction: calls, payload text, rollups, dead letters, parts.

The store only loads and writes: ingest decides what a call becomes (merged, priced, masked; see
`shared.ingest.calls`) and hands over the changes. A dead letter is keyed by the hash of its bytes, a part by
(kind, key, part). A call the database refuses costs only that call (see `write_calls` and
`shared.store.errors`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, select, tuple_, update

from shared.store.bounds import fit
from shared.store.errors import is_data_error, store_message
from shared.store.records import CallRecord, DeadLetter
from shared.store.rollups import RollupDeltas
from shared.store.rows import (
    SQLITE_CALL_COLUMNS,
    SQLITE_PAYLOAD_COLUMNS,
    call_row,
    has_payload,
    payload_row,
    record_from_rows,
    sqlite_call_values,
    sqlite_payload_values,
)
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts

logger = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list: well under every dialect's parameter limit (SQL Server: 2100)


@dataclass
class CallWrites:
    recorded: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # call id -> the database's reason (nothing written)

    def add(self, other: CallWrites) -> None:
        self.recorded.extend(other.recorded)
        self.merged.extend(other.merged)
        self.duplicates.extend(other.duplicates)
        self.refused.update(other.refused)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_calls(conn: Connection, call_ids: Sequence[str], *, with_payload: bool = False) -> dict[str, CallRecord]:
    found: dict[str, CallRecord] = {}
    for chunk in _chunks(list(call_ids)):
        if with_payload:
            query = select(calls, *[c for c in call_payloads.columns if c.name not in ("call_id", "time")]).select_from(
                calls.outerjoin(call_payloads, call_payloads.c.call_id == calls.c.call_id)
            )
        else:
            query = select(calls)
        for row in conn.execute(query.where(calls.c.call_id.in_(chunk))).mappings():
            found[row["call_id"]] = record_from_rows(row, row if with_payload else None)
    return found


@dataclass(slots=True)
class CallChange:
    """One call to write: new (`before` is None) or a stored call (`before`, as loaded) and what it becomes."""

    record: CallRecord
    before: CallRecord | None = None


def write_calls(
    conn: Connection,
    changes: Sequence[CallChange],
    *,
    now: datetime,
    store_text: bool = True,
    deltas: RollupDeltas | None = None,
) -> CallWrites:
    """Insert the new calls and update the changed ones (distinct call ids); rollups follow in the same go.

    With `deltas` the rollup changes are only accumulated there, for the caller to apply once before its
    commit (a batch written slice by slice touches each rollup row once, not once per slice).

    The calls are written in a savepoint. When the database refuses a value (a data error), the savepoint is
    rolled back and the calls halved until each refused one is alone: those are left out and named in
    `refused`, the others written. Any other error (the store down, a lock, a race) propagates.
    """
    result = CallWrites()
    apply_now = deltas is None
    deltas = RollupDeltas() if deltas is None else deltas
    if changes:
        _write_isolating_refused(conn, list(changes), result, deltas, now, store_text)
    if apply_now:
        deltas.apply(conn)
    return result


RollupChanges = list[tuple[CallRecord, int]]


def _write_isolating_refused(
    conn: Connection,
    changes: list[CallChange],
    result: CallWrites,
    deltas: RollupDeltas,
    now: datetime,
    store_text: bool,
) -> None:
    try:
        with conn.begin_nested():
            writes, rollup_changes = _write_changes(conn, changes, now, store_text)
    except Exception as error:
        if not is_data_error(error):
            raise
        if len(changes) == 1:
            call_id = changes[0].record.call_id
            result.refused[call_id] = store_message(error)
            logger.warning("call %s refused by the store: %s", call_id, result.refused[call_id])
            return
        middle = len(changes) // 2
        for half in (changes[:middle], changes[middle:]):
            _write_isolating_refused(conn, half, result, deltas, now, store_text)
        return
    result.add(writes)
    for record, sign in rollup_changes:  # only once the rows are in: a refused call changes no rollup
        deltas.add(record, sign)


def _write_changes(
    conn: Connection, changes: list[CallChange], now: datetime, store_text: bool
) -> tuple[CallWrites, RollupChanges]:
    """Write calls with distinct ids; returns what happened and the rollup changes it makes."""
    result = CallWrites()
    rollup_changes: RollupChanges = []
    fresh = []
    for change in changes:
        if change.before is None:
            fresh.append(change.record)
            continue
        _update_call(conn, change.record, now, store_text)
        rollup_changes += [(change.before, -1), (change.record, +1)]
        result.merged.append(change.record.call_id)
    if fresh:
        _insert_calls(conn, fresh, now, store_text)
        rollup_changes += [(r, +1) for r in fresh]
        result.recorded.extend(r.call_id for r in fresh)
    return result, rollup_changes


def _insert_calls(conn: Connection, records: list[CallRecord], now: datetime, store_text: bool) -> None:
    if conn.dialect.name == "sqlite":  # the ingest hot path: value tuples straight to the driver
        conn.exec_driver_sql(_SQLITE_CALL_INSERT, [sqlite_call_values(r, now) for r in records])
        texts = [sqlite_payload_values(r) for r in records if has_payload(r)] if store_text else []
        if texts:
            conn.exec_driver_sql(_SQLITE_PAYLOAD_INSERT, texts)
        return
    bulk_insert(conn, calls, [call_row(r, now) for r in records])
    payloads = [payload_row(r) for r in records if has_payload(r)] if store_text else []
    if payloads:
        bulk_insert(conn, call_payloads, payloads)


def _sqlite_insert(table: Table, names: Sequence[str]) -> str:
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


_SQLITE_CALL_INSERT = _sqlite_insert(calls, SQLITE_CALL_COLUMNS)
_SQLITE_PAYLOAD_INSERT = _sqlite_insert(call_payloads, SQLITE_PAYLOAD_COLUMNS)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows through SQLAlchemy (SQLite's ingest path binds tuples instead: see `_write_changes`)."""
    conn.execute(table.insert(), rows)


def existing_call_ids(conn: Connection, call_ids: list[str]) -> set[str]:
    found: set[str] = set()
    sqlite = conn.dialect.name == "sqlite"
    for chunk in _chunks(call_ids):
        if sqlite:  # the ingest hot path (every slice of every batch): the driver binds the ids as they are
            found.update(row[0] for row in conn.exec_driver_sql(_sqlite_known_ids(len(chunk)), tuple(chunk)))
        else:
            found.update(conn.execute(select(calls.c.call_id).where(calls.c.call_id.in_(chunk))).scalars())
    return found


@lru_cache(maxsize=8)  # a batch's slices have the same size
def _sqlite_known_ids(count: int) -> str:
    return f"SELECT call_id FROM {calls.name} WHERE call_id IN ({', '.join('?' * count)})"


def _update_call(conn: Connection, record: CallRecord, now: datetime, store_text: bool) -> None:
    row = call_row(record, now)
    row.pop("call_id")
    row.pop("ingested_at")  # keeps its place in the audit list's snapshot order
    conn.execute(update(calls).where(calls.c.call_id == record.call_id).values(row))
    if not store_text or not has_payload(record):
        return
    payload = payload_row(record)
    changed = conn.execute(
        update(call_payloads)
        .where(call_payloads.c.call_id == record.call_id)
        .values({k: v for k, v in payload.items() if k != "call_id"})
    )
    if changed.rowcount == 0:
        conn.execute(call_payloads.insert(), payload)


def write_dead_letters(conn: Connection, letters: Sequence[DeadLetter], *, now: datetime) -> int:
    """Keep each distinct bad event once (ingest masks them first, so a retry finds its hash); returns how many
    were new."""
    if not letters:
        return 0
    by_hash = {hashlib.sha256(letter.raw).hexdigest(): letter for letter in letters}
    known: set[str] = set()
    for chunk in _chunks(list(by_hash)):
        known.update(
            conn.execute(select(dead_letters.c.raw_sha256).where(dead_letters.c.raw_sha256.in_(chunk))).scalars()
        )
    rows = [
        {
            "received_at": now,
            "raw_sha256": digest,
            "event_id": fit(letter.event_id or None, dead_letters.c.event_id),
            "source": fit(letter.source or None, dead_letters.c.source),
            "reason": fit(letter.reason, dead_letters.c.reason),
            "raw": letter.raw,
            "call_id": fit(letter.truncated_call_id, dead_letters.c.call_id),
            "status": "salvaged" if letter.truncated_call_id else "open",
        }
        for digest, letter in by_hash.items()
        if digest not in known
    ]
    if rows:
        conn.execute(dead_letters.insert(), rows)
    return len(rows)


PartKey = tuple[str, str]  # (kind, part_key); the same as shared.ingest.types.PartKey


def load_parts(conn: Connection, keys: Iterable[PartKey]) -> dict[PartKey, dict[str, tuple[datetime, bytes]]]:
    found: dict[PartKey, dict[str, tuple[datetime, bytes]]] = {}
    key_list = sorted(set(keys))
    for chunk in _chunks(key_list, 200):
        query = select(pending_parts).where(tuple_(pending_parts.c.kind, pending_parts.c.part_key).in_(chunk))
        for row in conn.execute(query).mappings():
            found.setdefault((row["kind"], row["part_key"]), {})[row["part"]] = (row["received_at"], row["payload"])
    return found


def save_parts(conn: Connection, parts: Sequence[tuple[str, str, str, datetime, bytes]]) -> None:
    """Store parts not stored yet (a redelivered part is already there and is left alone); ingest masks them."""
    if not parts:
        return
    stored = load_parts(conn, {(kind, key) for kind, key, *_ in parts})
    rows = [
        {"kind": kind, "part_key": key, "part": part, "received_at": received_at, "payload": payload}
        for kind, key, part, received_at, payload in parts
        if part not in stored.get((kind, key), {})
    ]
    if rows:
        conn.execute(pending_parts.insert(), rows)


def delete_parts(conn: Connection, keys: Iterable[PartKey]) -> None:
    for kind, key in set(keys):
        conn.execute(delete(pending_parts).where(and_(pending_parts.c.kind == kind, pending_parts.c.part_key == key)))


def stale_part_keys(conn: Connection, *, kind: str, older_than: datetime, limit: int = 1000) -> list[str]:
    """Keys whose oldest part has waited longer than the join window (for the sweep timer)."""
    query = (
        select(pending_parts.c.part_key)
        .where(pending_parts.c.kind == kind, pending_parts.c.received_at < older_than)
        .group_by(pending_parts.c.part_key)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())
