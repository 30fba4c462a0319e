"""Hourly and daily usage rollups, kept exact by applying signed deltas in the calls' own transaction.

A new call adds its figures; a merged call subtracts its old figures and adds the new ones; a duplicate adds
nothing. Deltas are summed per key in Python first, so a batch touches each rollup row once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, Table, and_, bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..records import CallRecord
from .rows import hour_of, naive_utc
from .schema import (
    ROLLUP_CUTS,
    ROLLUP_DIMENSIONS,
    ROLLUP_MEASURES,
    usage_daily,
    usage_daily_cuts,
    usage_hourly,
    usage_hourly_cuts,
)

RollupKey = tuple
Deltas = dict[RollupKey, list[float]]


def _key(record: CallRecord) -> tuple:
    return tuple(
        (record.status or 0) if dim == "status" else (getattr(record, dim) or "") for dim in ROLLUP_DIMENSIONS
    )


def cut_key(dims: tuple, cut: str) -> tuple:
    """The dimensions of one cut kept, the others blanked ('' or status 0) as the cut tables store them."""
    kept = ROLLUP_CUTS[cut]
    return tuple(
        value if dim in kept else (0 if dim == "status" else "") for dim, value in zip(ROLLUP_DIMENSIONS, dims)
    )


def _figures(record: CallRecord, sign: int) -> list[float]:
    duration = record.duration_ms
    return [
        sign,
        sign * record.failed,
        sign * record.prompt_tokens,
        sign * record.completion_tokens,
        sign * record.total_tokens,
        sign * record.cached_tokens,
        sign * record.reasoning_tokens,
        sign * record.tokens_estimated,
        sign * (record.cost_usd is not None),
        sign * (record.cost_usd or 0.0),
        sign * (duration or 0.0),
        sign * (duration is not None),
    ]


_BLANKS = tuple(0 if dim == "status" else "" for dim in ROLLUP_DIMENSIONS)
_CUT_MASKS = tuple((cut, tuple(dim in kept for dim in ROLLUP_DIMENSIONS)) for cut, kept in ROLLUP_CUTS.items())


def _add(sums: list, figures: list) -> None:
    for i, value in enumerate(figures):
        sums[i] += value


class RollupDeltas:
    """Signed changes to both rollups, accumulated over one batch."""

    def __init__(self) -> None:
        self.hourly: Deltas = defaultdict(lambda: [0] * len(ROLLUP_MEASURES))
        self.daily: Deltas = defaultdict(lambda: [0] * len(ROLLUP_MEASURES))
        self.hourly_cuts: Deltas = defaultdict(lambda: [0] * len(ROLLUP_MEASURES))  # keys: (cut, bucket, *dims)
        self.daily_cuts: Deltas = defaultdict(lambda: [0] * len(ROLLUP_MEASURES))

    def add(self, record: CallRecord, sign: int = 1) -> None:
        hour = hour_of(naive_utc(record.time))
        day = hour.replace(hour=0)
        dims = _key(record)
        figures = _figures(record, sign)
        _add(self.hourly[(hour, *dims)], figures)
        _add(self.daily[(day, *dims)], figures)
        for cut, kept in _CUT_MASKS:
            masked = tuple(value if keep else blank for value, keep, blank in zip(dims, kept, _BLANKS))
            _add(self.hourly_cuts[(cut, hour, *masked)], figures)
            _add(self.daily_cuts[(cut, day, *masked)], figures)

    def add_all(self, records: Iterable[CallRecord], sign: int = 1) -> None:
        for record in records:
            self.add(record, sign)

    def apply(self, conn: Connection) -> None:
        """Write the accumulated deltas (once per batch, just before commit) and start over empty."""
        _apply(conn, usage_hourly, ("hour",), self.hourly)
        _apply(conn, usage_daily, ("day",), self.daily)
        _apply(conn, usage_hourly_cuts, ("cut", "hour"), self.hourly_cuts)
        _apply(conn, usage_daily_cuts, ("cut", "day"), self.daily_cuts)
        for deltas in (self.hourly, self.daily, self.hourly_cuts, self.daily_cuts):
            deltas.clear()


def dims_key(dims: tuple) -> str:
    """A stable 128-bit key of one combination of dimension values."""
    return hashlib.blake2b("\x1f".join(map(str, dims)).encode(), digest_size=16).hexdigest()


def _rows(leading: tuple[str, ...], deltas: Deltas) -> list[dict]:
    names = (*leading, *ROLLUP_DIMENSIONS)
    rows = []
    for key, sums in deltas.items():
        if not any(sums):
            continue
        row = dict(zip(names, key))
        row["dims_key"] = dims_key(key[len(leading):])
        row.update(zip(ROLLUP_MEASURES, sums))
        rows.append(row)
    return rows


def _apply(conn: Connection, table: Table, leading: tuple[str, ...], deltas: Deltas) -> None:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _apply_sqlite(conn, table, leading, deltas)
        return
    rows = _rows(leading, deltas)
    if not rows:
        return
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert(table) if dialect == "sqlite" else pg_insert(table)
        upsert = insert.on_conflict_do_update(
            index_elements=[*leading, "dims_key"],
            set_={m: table.c[m] + insert.excluded[m] for m in ROLLUP_MEASURES},
        )
        conn.execute(upsert, rows)
        return
    # SQL Server has no ON CONFLICT: update first, insert what was not there. Two writers racing on a
    # brand-new key make one transaction fail on the primary key; the host retries it.
    keys = (*leading, "dims_key")
    statement = rollup_update(table, *leading)
    for row in rows:
        params = {f"k_{k}": row[k] for k in keys} | {f"d_{m}": row[m] for m in ROLLUP_MEASURES}
        if conn.execute(statement, params).rowcount == 0:
            conn.execute(table.insert(), row)


_SQLITE_UPSERTS: dict[str, str] = {}


def _apply_sqlite(conn: Connection, table: Table, leading: tuple[str, ...], deltas: Deltas) -> None:
    """The ingest hot path on SQLite: one precompiled upsert through the driver with positional tuples."""
    statement = _SQLITE_UPSERTS.get(table.name)
    if statement is None:
        names = (*leading, "dims_key", *ROLLUP_DIMENSIONS, *ROLLUP_MEASURES)
        statement = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT ({', '.join((*leading, 'dims_key'))}) DO UPDATE SET "
            + ", ".join(f"{m} = {m} + excluded.{m}" for m in ROLLUP_MEASURES)
        )
        _SQLITE_UPSERTS[table.name] = statement
    width = len(leading)
    rows = []
    for key, sums in deltas.items():
        if not any(sums):
            continue
        lead = tuple(v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v for v in key[:width])
        rows.append((*lead, dims_key(key[width:]), *key[width:], *sums))
    if rows:
        conn.exec_driver_sql(statement, rows)


def rollup_update(table: Table, *leading: str):
    """`UPDATE ... SET m = m + :d_m WHERE bucket = :k_bucket AND dims_key = :k_dims_key` (SQL Server's path)."""
    where = and_(*(table.c[k] == _bind(k) for k in (*leading, "dims_key")))
    return update(table).where(where).values({m: table.c[m] + _bind("d_" + m) for m in ROLLUP_MEASURES})


def _bind(name: str):
    return bindparam(name if name.startswith("d_") else f"k_{name}")
