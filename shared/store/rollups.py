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
from .schema import ROLLUP_DIMENSIONS, ROLLUP_MEASURES, usage_daily, usage_hourly

RollupKey = tuple
Deltas = dict[RollupKey, list[float]]


def _key(record: CallRecord) -> tuple:
    return tuple(
        (record.status or 0) if dim == "status" else (getattr(record, dim) or "") for dim in ROLLUP_DIMENSIONS
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

    def add(self, record: CallRecord, sign: int = 1) -> None:
        hour = hour_of(naive_utc(record.time))
        day = hour.replace(hour=0)
        dims = _key(record)
        figures = _figures(record, sign)
        for target, bucket in ((self.hourly, hour), (self.daily, day)):
            sums = target[(bucket, *dims)]
            for i, value in enumerate(figures):
                sums[i] += value

    def add_all(self, records: Iterable[CallRecord], sign: int = 1) -> None:
        for record in records:
            self.add(record, sign)

    def apply(self, conn: Connection) -> None:
        _apply(conn, usage_hourly, "hour", self.hourly)
        _apply(conn, usage_daily, "day", self.daily)


def dims_key(dims: tuple) -> str:
    """A stable 128-bit key of one combination of dimension values."""
    return hashlib.blake2b("\x1f".join(map(str, dims)).encode(), digest_size=16).hexdigest()


def _rows(bucket: str, deltas: Deltas) -> list[dict]:
    names = (bucket, *ROLLUP_DIMENSIONS)
    rows = []
    for key, sums in deltas.items():
        if not any(sums):
            continue
        row = dict(zip(names, key))
        row["dims_key"] = dims_key(key[1:])
        row.update(zip(ROLLUP_MEASURES, sums))
        rows.append(row)
    return rows


def _apply(conn: Connection, table: Table, bucket: str, deltas: Deltas) -> None:
    rows = _rows(bucket, deltas)
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert(table) if dialect == "sqlite" else pg_insert(table)
        upsert = insert.on_conflict_do_update(
            index_elements=[bucket, "dims_key"],
            set_={m: table.c[m] + insert.excluded[m] for m in ROLLUP_MEASURES},
        )
        conn.execute(upsert, rows)
        return
    # SQL Server has no ON CONFLICT: update first, insert what was not there. Two writers racing on a
    # brand-new key make one transaction fail on the primary key; the host retries it.
    keys = (bucket, "dims_key")
    statement = rollup_update(table, bucket)
    for row in rows:
        params = {f"k_{k}": row[k] for k in keys} | {f"d_{m}": row[m] for m in ROLLUP_MEASURES}
        if conn.execute(statement, params).rowcount == 0:
            conn.execute(table.insert(), row)


def rollup_update(table: Table, bucket: str):
    """`UPDATE ... SET m = m + :d_m WHERE bucket = :k_bucket AND dims_key = :k_dims_key` (SQL Server's path)."""
    where = and_(*(table.c[k] == _bind(k) for k in (bucket, "dims_key")))
    return update(table).where(where).values({m: table.c[m] + _bind("d_" + m) for m in ROLLUP_MEASURES})


def _bind(name: str):
    return bindparam(name if name.startswith("d_") else f"k_{name}")
