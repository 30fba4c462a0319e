"""Hourly and daily usage rollups, kept exact by applying signed deltas in the calls' own transaction.

A new call adds its figures; a merged call subtracts its old figures and adds the new ones; a duplicate adds
nothing. Deltas are summed per key in Python first, so a batch touches each rollup row once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache, lru_cache
from operator import add, itemgetter

from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.store.measures import MEASURE_NAMES, call_figures
from shared.store.records import CallRecord
from shared.store.schema import (
    DAY_TO_HOUR,
    MONTH_TO_DATE,
    ROLLUP_CUTS,
    ROLLUP_DIMENSIONS,
    Cumulative,
    usage_daily,
    usage_daily_cuts,
    usage_hourly,
    usage_hourly_cuts,
)
from shared.store.schema_ptu import usage_day_changes
from shared.store.times import hour_of, naive_utc, sqlite_value, stored_time

RollupKey = tuple
Deltas = dict[RollupKey, list[float]]


def _key(record: CallRecord) -> tuple:
    return tuple((record.status or 0) if dim == "status" else (getattr(record, dim) or "") for dim in ROLLUP_DIMENSIONS)


# A dimension a call lacks, or a cut drops: status 0, text empty (read models keyed as the rollups use it too).
BLANK_DIMENSIONS = tuple(0 if dim == "status" else "" for dim in ROLLUP_DIMENSIONS)
_CUT_MASKS = tuple((cut, tuple(dim in kept for dim in ROLLUP_DIMENSIONS)) for cut, kept in ROLLUP_CUTS.items())


@lru_cache(maxsize=1 << 14)
def _cut_dims(dims: tuple) -> tuple[tuple[str, tuple], ...]:
    """(cut, `dims` as the cut keeps them, the dropped ones blank) for each cut (cached: a batch sees the same
    combinations again and again)."""
    return tuple(
        (cut, tuple(value if keep else blank for value, keep, blank in zip(dims, kept, BLANK_DIMENSIONS, strict=True)))
        for cut, kept in _CUT_MASKS
    )


def _add(sums: list, figures: list) -> None:
    sums[:] = map(add, sums, figures)  # element-wise in C: this runs ~12 times per call ingested


class RollupDeltas:
    """Signed changes to every rollup, accumulated over one batch.

    Only the hourly sums per full key are kept while calls come in (one addition per call); the daily
    rollups, the cuts and the cumulative families are derived from them once, in `apply`, where a batch has
    a few hundred keys rather than a few thousand calls.

    `hourly_sums_days`: days of day-to-hour cumulative sums kept (0: all), the newest day included.
    """

    def __init__(self, hourly_sums_days: int = 0) -> None:
        self.hourly_sums_days = hourly_sums_days
        self.hourly: Deltas = {}  # keys: (hour, *dims)

    def add(self, record: CallRecord, sign: int = 1) -> None:
        key = (hour_of(naive_utc(record.time)), *_key(record))
        figures = call_figures(record, sign)  # a new list each call: kept as the key's sums when it is new
        sums = self.hourly.get(key)
        if sums is None:
            self.hourly[key] = figures
        else:
            _add(sums, figures)

    def add_all(self, records: Iterable[CallRecord], sign: int = 1) -> None:
        for record in records:
            self.add(record, sign)

    def apply(self, conn: Connection) -> None:
        """Write the accumulated deltas (once per batch, just before commit) and start over empty."""
        hourly = {key: sums for key, sums in self.hourly.items() if any(sums)}
        self.hourly = {}
        daily: Deltas = {}
        hourly_cuts: Deltas = {}  # keys: (cut, bucket, *dims), the dims a cut drops blank
        day_of: dict[datetime, datetime] = {}  # a batch has few hours: each one's day once
        for key, sums in hourly.items():
            hour, dims = key[0], key[1:]
            day = day_of.get(hour)
            if day is None:
                day = day_of[hour] = hour.replace(hour=0)
            _add_into(daily, (day, *dims), sums)
            for cut, masked in _cut_dims(dims):
                _add_into(hourly_cuts, (cut, hour, *masked), sums)
        daily_cuts: Deltas = {}
        for key, sums in hourly_cuts.items():
            _add_into(daily_cuts, (key[0], day_of[key[1]], *key[2:]), sums)
        _apply(conn, usage_hourly, ("hour",), hourly)
        _apply(conn, usage_daily, ("day",), daily)
        _apply(conn, usage_hourly_cuts, ("cut", "hour"), hourly_cuts)
        _apply(conn, usage_daily_cuts, ("cut", "day"), daily_cuts)
        _apply_cumulative(conn, daily_cuts, MONTH_TO_DATE)
        _apply_cumulative(conn, hourly_cuts, DAY_TO_HOUR, keep_days=self.hourly_sums_days)
        count_day_changes(conn, {(day_of[key[0]], key[1 + _DEPLOYMENT]) for key in hourly})


_DEPLOYMENT = ROLLUP_DIMENSIONS.index("deployment")


def count_day_changes(conn: Connection, days: set[tuple[datetime, str]]) -> None:
    """Add one to the change count of each (day, deployment) whose rollups this transaction changed: read models
    built from a day's rollups (`reports.ptu_days`) compare the count they saw with it."""
    table = usage_day_changes
    rows = [{"day": day, "deployment": deployment, "changes": 1} for day, deployment in sorted(days)]
    if not rows:
        return
    if conn.dialect.name in ("sqlite", "postgresql"):
        conn.execute(_day_changes_upsert(conn.dialect.name), rows)
        return
    for row in rows:  # SQL Server, as `_apply`: update first, insert what was not there
        where = and_(table.c.day == row["day"], table.c.deployment == row["deployment"])
        if conn.execute(update(table).where(where).values(changes=table.c.changes + 1)).rowcount == 0:
            conn.execute(insert(table), row)


@cache  # built once per dialect, as `display_names._upsert`: every ingest transaction runs it
def _day_changes_upsert(dialect: str):
    table = usage_day_changes
    proposed = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    return proposed.on_conflict_do_update(index_elements=["day", "deployment"], set_={"changes": table.c.changes + 1})


def _add_into(deltas: Deltas, key: RollupKey, sums: list) -> None:
    """Add `sums` to the key's sums in `deltas` (a copy when the key is new: `sums` stays the caller's)."""
    kept = deltas.get(key)
    if kept is None:
        deltas[key] = list(sums)
    else:
        _add(kept, sums)


@lru_cache(maxsize=1 << 14)  # a few MB at most
def dims_key(dims: tuple) -> str:
    """A stable 128-bit key of one combination of dimension values (cached: a batch hashes the same
    combinations for each of its rollup tables, and the next batch mostly the same ones again)."""
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
        row = dict(zip(leading, key[:width], strict=True))
        row.update((dim, dims[i]) for i, dim in stored)
        row["dims_key"] = dims_key(dims)
        row.update(zip(MEASURE_NAMES, sums, strict=True))
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
    if dialect == "postgresql":
        proposed = pg_insert(table)
        upsert = proposed.on_conflict_do_update(
            index_elements=[*leading, "dims_key"],
            set_={m: table.c[m] + proposed.excluded[m] for m in MEASURE_NAMES},
        )
        conn.execute(upsert, rows)
        return
    # SQL Server has no ON CONFLICT: update first, insert what was not there. Two writers racing on a
    # brand-new key make one transaction fail on the primary key; the host retries it.
    keys = (*leading, "dims_key")
    statement = rollup_update(table, *leading)
    for row in rows:
        params = {f"k_{k}": row[k] for k in keys} | {f"d_{m}": row[m] for m in MEASURE_NAMES}
        if conn.execute(statement, params).rowcount == 0:
            conn.execute(table.insert(), row)


_SQLITE_UPSERTS: dict[str, str] = {}


def _apply_sqlite(conn: Connection, table: Table, leading: tuple[str, ...], deltas: Deltas) -> None:
    """The ingest hot path on SQLite: one precompiled upsert through the driver with positional tuples."""
    stored = [i for i, _ in _stored_dims(table)]
    statement = _SQLITE_UPSERTS.get(table.name)
    if statement is None:
        names = (*leading, "dims_key", *(ROLLUP_DIMENSIONS[i] for i in stored), *MEASURE_NAMES)
        statement = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT ({', '.join((*leading, 'dims_key'))}) DO UPDATE SET "
            + ", ".join(f"{m} = {m} + excluded.{m}" for m in MEASURE_NAMES)
        )
        _SQLITE_UPSERTS[table.name] = statement
    width = len(leading)
    pick = _picker(stored)
    rows = []
    stored_lead: dict[tuple, tuple] = {}  # a batch has few buckets: convert each once
    for key, sums in deltas.items():
        if not any(sums):
            continue
        lead = stored_lead.get(key[:width])
        if lead is None:
            lead = stored_lead[key[:width]] = tuple(map(sqlite_value, key[:width]))
        dims = key[width:]
        rows.append((*lead, dims_key(dims), *pick(dims), *sums))
    if rows:
        conn.exec_driver_sql(statement, rows)


def _picker(positions: list[int]):
    """A function giving the values at `positions` of a tuple, as a tuple (itemgetter, in C)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return itemgetter(*positions)


def _apply_cumulative(conn: Connection, cut_deltas: Deltas, family: Cumulative, keep_days: int | None = None) -> None:
    """Cut deltas into a cumulative family: a change in bucket b adds to the key's rows b..the period's last.

    With `keep_days` (a family of daily periods) the family is kept from its first day on only, and a new day
    drops all but the newest `keep_days` (0: none dropped): a day before the first kept one is left to the
    plain rollups (readers fall back there), never half-written by a late call."""
    by_period: dict[datetime, dict[tuple, list[tuple[datetime, list]]]] = defaultdict(lambda: defaultdict(list))
    period_of: dict[datetime, datetime] = {}  # a batch has few buckets: each one's period once
    for key, sums in cut_deltas.items():
        if any(sums):
            bucket = key[1]
            period = period_of.get(bucket)
            if period is None:
                period = period_of[bucket] = family.period_of(bucket)
            by_period[period][(key[0], key[2:])].append((bucket, sums))  # (cut, dims) -> its changes
    if keep_days is not None and by_period:
        first_kept = first_period(conn, family)
        by_period = {p: keys for p, keys in by_period.items() if first_kept is None or p >= first_kept}
    for period, keys in sorted(by_period.items()):
        newest = max(bucket for bucket, its_period in period_of.items() if its_period == period)
        last = _claim_period(conn, family, period, newest)
        if last is None and keep_days:
            _drop_before(conn, family, period - timedelta(days=keep_days - 1))
        if last is not None and newest > last:
            _copy_forward(conn, family, last, newest)
        last = newest if last is None else max(last, newest)
        per_cut: dict[str, Deltas] = defaultdict(dict)
        ladder = _ladder(min(b for b, p in period_of.items() if p == period), last, family.step)
        place = {bucket: i for i, bucket in enumerate(ladder)}
        for (cut, dims), changes in keys.items():  # each bucket from the key's first change on gets its sum
            deltas = per_cut[cut]
            if len(changes) == 1:  # the common case: one change, the same sums in every later bucket
                bucket, sums = changes[0]
                for later in ladder[place[bucket] :]:
                    deltas[(later, *dims)] = sums
                continue
            changed = dict(changes)
            running: list = [0] * len(MEASURE_NAMES)
            for later in ladder[place[min(changed)] :]:
                change = changed.get(later)
                if change is not None:
                    running = list(map(add, running, change))
                deltas[(later, *dims)] = running
        for cut, deltas in per_cut.items():
            _apply(conn, family.tables[cut], (family.bucket,), deltas)


def _ladder(first: datetime, last: datetime, step: timedelta) -> list[datetime]:
    """The buckets from `first` to `last`, `step` apart."""
    buckets = []
    while first <= last:
        buckets.append(first)
        first += step
    return buckets


def _claim_period(conn: Connection, family: Cumulative, period: datetime, newest: datetime) -> datetime | None:
    """Lock the period's mark (its writers go one at a time), move it to `newest`, return the old one."""
    period_column, last_column = family.marks.c  # (period, last bucket)
    where = period_column == period
    if conn.execute(update(family.marks).where(where).values({last_column: last_column})).rowcount == 0:
        conn.execute(
            family.marks.insert(), {period_column.name: period, last_column.name: newest}
        )  # a racing first writer fails here
        return None
    last = stored_time(conn.execute(select(last_column).where(where)).scalar_one())
    if newest > last:
        conn.execute(update(family.marks).where(where).values({last_column: newest}))
    return last


def first_period(conn: Connection, family: Cumulative) -> datetime | None:
    """The first period the family holds (None: none yet)."""
    value = conn.execute(select(func.min(family.marks.c[0]))).scalar()
    return None if value is None else stored_time(value)


def _drop_before(conn: Connection, family: Cumulative, start: datetime) -> None:
    for table in family.tables.values():
        conn.execute(delete(table).where(table.c[family.bucket] < start))
    conn.execute(delete(family.marks).where(family.marks.c[0] < start))


def _copy_forward(conn: Connection, family: Cumulative, last: datetime, newest: datetime) -> None:
    """Give every key of the period a row for each bucket after `last` up to `newest`: nothing changed since."""
    bucket = last + family.step
    while bucket <= newest:
        for table in family.tables.values():
            conn.execute(_copy_statement(table, family.bucket), {"copy_to": bucket, "copy_from": last})
        bucket += family.step


@lru_cache(maxsize=64)  # one per cumulative table: built once, so SQLAlchemy's compiled cache serves it
def _copy_statement(table: Table, bucket: str):
    """`INSERT INTO t (...) SELECT :copy_to, <the other columns> FROM t WHERE bucket = :copy_from`."""
    names = [c.name for c in table.columns]
    column = table.c[bucket]
    copied = [bindparam("copy_to", type_=column.type) if n == bucket else table.c[n] for n in names]
    source = select(*copied).where(column == bindparam("copy_from", type_=column.type))
    return insert(table).from_select(names, source)


def rollup_update(table: Table, *leading: str):
    """`UPDATE ... SET m = m + :d_m WHERE bucket = :k_bucket AND dims_key = :k_dims_key` (SQL Server's path)."""
    where = and_(*(table.c[k] == _bind(k) for k in (*leading, "dims_key")))
    return update(table).where(where).values({m: table.c[m] + _bind("d_" + m) for m in MEASURE_NAMES})


def _bind(name: str):
    return bindparam(name if name.startswith("d_") else f"k_{name}")
