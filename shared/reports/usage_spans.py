"""Whole days and hours of a range read from the cumulative sums (month-to-date and day-to-hour).

A span is the buckets [first, last] of one period; its sums per key are the row at `last` minus the row at the
bucket before `first`. `span_parts` merges several spans by key lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, exists, func, select

from shared.reports.usage_query import TIME_KEYS, UsageQuery, key_column, key_conditions
from shared.store.measures import MEASURE_NAMES as SUMS
from shared.store.schema import Cumulative
from shared.store.times import naive_utc, stored_time


@dataclass(frozen=True)
class CumulativeSpan:
    """Whole buckets [first, last] of one period of a cumulative family: the sums at `last` minus those at the
    bucket before `first` (nothing to subtract when `first` starts the period)."""

    family: Cumulative
    period: datetime
    first: datetime
    last: datetime


def cumulative_spans(start: datetime, end: datetime, family: Cumulative) -> list[CumulativeSpan]:
    first, stop = naive_utc(start), naive_utc(end)
    spans = []
    while first < stop:
        period = family.period_of(first)
        following = family.next_period(period) or stop
        spans.append(CumulativeSpan(family, period, first, min(stop, following) - family.step))
        first = following
    return spans


def _span_rows(span: CumulativeSpan, cut: str, *, at_last: bool, name: str):
    """The cumulative rows as of the span's last bucket (or the bucket before its first): a bucket after the
    last materialized one reads the last one (nothing happened since); none when the period had nothing yet."""
    table = span.family.tables[cut].alias(name)
    moment = span.last if at_last else span.first - span.family.step
    return table, table.c[span.family.bucket] == _as_of(span.family, cut, span.period, moment)


def cumulative_query(span: CumulativeSpan, query: UsageQuery, cut: str):
    """One span as a piece: a row per key of the cut."""
    return span_parts([span], query, cut)[0]


def span_parts(spans: Sequence[CumulativeSpan], query: UsageQuery, cut: str) -> list:
    """The spans' sums per key of the cut, a row per key, merged by looking keys up rather than by grouping.

    Within a period the sums are dense: a key called before a span's end has a row at its end, and every key
    at its start is also at its end. So the keys are those at the spans' ends, and part i holds the keys at span
    i's end that no earlier span ends with, plus what the later spans add for them, each found by primary key
    (bucket, dims_key). Grouping a stack of the spans instead costs ~3 us per stacked row in SQLite's sorter:
    a 30-day `ip,model` report across a month's end took 110 ms that way, 67 ms this way.
    """
    keys = [k for k in query.group_by if k not in TIME_KEYS]
    ends = [_span_rows(span, cut, at_last=True, name=f"e{i}") for i, span in enumerate(spans)]
    starts = [
        None if span.first == span.period else _span_rows(span, cut, at_last=False, name=f"s{i}")
        for i, span in enumerate(spans)
    ]
    parts = []
    for i, (ending, at_end) in enumerate(ends):
        source, terms = ending, {m: ending.c[m] for m in SUMS}
        # Keys never called before a span have no row at its start (nor at a later span's end): outer joins.
        for j in range(i, len(spans)):
            for snapshot, adds in ((ends[j], True), (starts[j], False)):
                if snapshot is None or (j == i and adds):
                    continue
                table, at_bucket = snapshot
                source = source.outerjoin(table, and_(table.c.dims_key == ending.c.dims_key, at_bucket))
                for m in SUMS:
                    terms[m] = (
                        terms[m] + func.coalesce(table.c[m], 0) if adds else terms[m] - func.coalesce(table.c[m], 0)
                    )
        earlier = [~exists().where(table.c.dims_key == ending.c.dims_key, at_bucket) for table, at_bucket in ends[:i]]
        columns = [key_column(ending, k, query).label(k) for k in keys]
        parts.append(
            select(*columns, *[terms[m].label(m) for m in SUMS])
            .select_from(source)
            .where(at_end, *earlier, *key_conditions(ending, query))
        )
    return parts


def periods_with_rows(
    conn: Connection, family: Cumulative, cut: str, start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    """[start, end) narrowed to the periods the cumulative cut holds rows for (None: no rows at all), so a range
    from year 1 costs one statement per period with data, not one per calendar month since then."""
    bucket = family.tables[cut].c[family.bucket]
    # Two statements: SQLite answers a lone min() or max() from the index, but scans the table for both at once.
    lowest = conn.execute(select(func.min(bucket))).scalar()
    highest = conn.execute(select(func.max(bucket))).scalar()
    if lowest is None:
        return None
    first = family.period_of(stored_time(lowest))
    after_last = family.next_period(family.period_of(stored_time(highest)))
    start, end = max(naive_utc(start), first), naive_utc(end) if after_last is None else min(naive_utc(end), after_last)
    return (start, end) if start < end else None


def _as_of(family: Cumulative, cut: str, period: datetime, moment: datetime):
    """The last materialized bucket of the period at or before `moment` (NULL: the period had nothing by then)."""
    bucket = family.tables[cut].alias("m").c[family.bucket]
    return select(func.max(bucket)).where(bucket >= period, bucket <= moment).scalar_subquery()
