"""Hourly and daily usage rollups, kept exact by applying signed deltas in the calls' own transaction.

A new call adds its figures; a merged call subtracts its old figures and adds the new ones; a duplicate adds
nothing. Deltas are summed per key in Python first, so a batch touches each rollup row once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from operator import add
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import Connection, Table, and_, bindparam, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..records import CallRecord
from .rows import hour_of, naive_utc
from .schema import (
    ROLLUP_CUTS,
    USAGE_CUMULATIVE,
    ROLLUP_DIMENSIONS,
    ROLLUP_MEASURES,
    usage_daily,
    usage_daily_cuts,
    usage_hourly,
    usage_cum_marks,
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
    sums[:] = map(add, sums, figures)  # element-wise in C: this runs ~12 times per call ingested


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
        _apply_cumulative(conn, self.daily_cuts)
        for deltas in (self.hourly, self.daily, self.hourly_cuts, self.daily_cuts):
            deltas.clear()


def dims_key(dims: tuple) -> str:
    """A stable 128-bit key of one combination of dimension values."""
    return hashlib.blake2b("\x1f".join(map(str, dims)).encode(), digest_size=16).hexdigest()


def _stored_dims(table: Table) -> list[tuple[int, str]]:
    """(position in ROLLUP_DIMENSIONS, name) of the dimension columns a rollup table keeps."""
    return [(i, dim) for i, dim in enumerate(ROLLUP_DIMENSIONS) if dim in table.c]


def _rows(table: Table, leading: tuple[str, ...], deltas: Deltas) -> list[dict]:
    width = len(leading)
    stored = _stored_dims(table)
    rows = []
    for key, sums in deltas.items():
        if not any(sums):
            continue
        dims = key[width:]
        row = dict(zip(leading, key))
        row.update((dim, dims[i]) for i, dim in stored)
        row["dims_key"] = dims_key(dims)
        row.update(zip(ROLLUP_MEASURES, sums))
        rows.append(row)
    return rows


def _apply(conn: Connection, table: Table, leading: tuple[str, ...], deltas: Deltas) -> None:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _apply_sqlite(conn, table, leading, deltas)
        return
    rows = _rows(table, leading, deltas)
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
    stored = [i for i, _ in _stored_dims(table)]
    statement = _SQLITE_UPSERTS.get(table.name)
    if statement is None:
        names = (*leading, "dims_key", *(ROLLUP_DIMENSIONS[i] for i in stored), *ROLLUP_MEASURES)
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
        dims = key[width:]
        rows.append((*lead, dims_key(dims), *(dims[i] for i in stored), *sums))
    if rows:
        conn.exec_driver_sql(statement, rows)


def _apply_cumulative(conn: Connection, daily_cuts: Deltas) -> None:
    """The daily cut deltas into the cumulative cuts: a change on day d adds to the key's rows d..last day."""
    by_month: dict[datetime, list[tuple]] = defaultdict(list)
    for (cut, day, *dims), sums in daily_cuts.items():
        if any(sums):
            by_month[day.replace(day=1)].append((cut, day, tuple(dims), sums))
    for month, items in sorted(by_month.items()):
        newest = max(day for _, day, _, _ in items)
        last = _claim_month(conn, month, newest)
        if last is not None and newest > last:
            _copy_forward(conn, last, newest)
        last = newest if last is None else max(last, newest)
        per_cut: dict[str, Deltas] = defaultdict(lambda: defaultdict(lambda: [0] * len(ROLLUP_MEASURES)))
        for cut, day, dims, sums in items:
            deltas = per_cut[cut]
            while day <= last:
                _add(deltas[(day, *dims)], sums)
                day += _DAY
        for cut, deltas in per_cut.items():
            _apply(conn, USAGE_CUMULATIVE[cut], ("day",), deltas)


_DAY = timedelta(days=1)


def _claim_month(conn: Connection, month: datetime, newest: datetime) -> datetime | None:
    """Lock the month's mark (writers of a month go one at a time), move it to `newest`, return the old one."""
    marks = usage_cum_marks
    where = marks.c.month == month
    if conn.execute(update(marks).where(where).values(last_day=marks.c.last_day)).rowcount == 0:
        conn.execute(marks.insert(), {"month": month, "last_day": newest})  # a racing first writer fails here
        return None
    last = conn.execute(select(marks.c.last_day).where(where)).scalar_one()
    last = datetime.fromisoformat(last) if isinstance(last, str) else last
    if newest > last:
        conn.execute(update(marks).where(where).values(last_day=newest))
    return last


def _copy_forward(conn: Connection, last: datetime, newest: datetime) -> None:
    """Give every key of the month a row for each day after `last` up to `newest`: nothing changed since."""
    day = last + _DAY
    while day <= newest:
        for table in USAGE_CUMULATIVE.values():
            names = [c.name for c in table.columns]
            source = select(*[literal(day, table.c.day.type) if n == "day" else table.c[n] for n in names])
            conn.execute(insert(table).from_select(names, source.where(table.c.day == last)))
        day += _DAY


def rollup_update(table: Table, *leading: str):
    """`UPDATE ... SET m = m + :d_m WHERE bucket = :k_bucket AND dims_key = :k_dims_key` (SQL Server's path)."""
    where = and_(*(table.c[k] == _bind(k) for k in (*leading, "dims_key")))
    return update(table).where(where).values({m: table.c[m] + _bind("d_" + m) for m in ROLLUP_MEASURES})


def _bind(name: str):
    return bindparam(name if name.startswith("d_") else f"k_{name}")
