"""Hourly and daily usage rollups, kept exact by applying signed deltas in the calls' own transaction.

A new call adds its figures; a merged call subtracts its old figures and adds the new ones; a duplicate adds
nothing. Deltas are summed per key in Python first, so a batch touches each rollup row once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
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
        targets = [(self.hourly, (hour, *dims)), (self.daily, (day, *dims))]
        for cut in ROLLUP_CUTS:
            masked = cut_key(dims, cut)
            targets += [(self.hourly_cuts, (cut, hour, *masked)), (self.daily_cuts, (cut, day, *masked))]
        for target, key in targets:
            sums = target[key]
            for i, value in enumerate(figures):
                sums[i] += value

    def add_all(self, records: Iterable[CallRecord], sign: int = 1) -> None:
        for record in records:
            self.add(record, sign)

    def apply(self, conn: Connection) -> None:
        _apply(conn, usage_hourly, ("hour",), self.hourly)
        _apply(conn, usage_daily, ("day",), self.daily)
        _apply(conn, usage_hourly_cuts, ("cut", "hour"), self.hourly_cuts)
        _apply(conn, usage_daily_cuts, ("cut", "day"), self.daily_cuts)


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
    rows = _rows(leading, deltas)
    if not rows:
        return
    dialect = conn.dialect.name
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


def rollup_update(table: Table, *leading: str):
    """`UPDATE ... SET m = m + :d_m WHERE bucket = :k_bucket AND dims_key = :k_dims_key` (SQL Server's path)."""
    where = and_(*(table.c[k] == _bind(k) for k in (*leading, "dims_key")))
    return update(table).where(where).values({m: table.c[m] + _bind("d_" + m) for m in ROLLUP_MEASURES})


def _bind(name: str):
    return bindparam(name if name.startswith("d_") else f"k_{name}")
