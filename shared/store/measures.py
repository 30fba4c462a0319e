"""The rollups' measures, each defined once: its column, its SQL type, what one call adds to it and its sum
over raw calls in SQL. The rollup tables' columns, the deltas ingest applies, the reports' raw edges and their
merged sums are all generated from `MEASURES`, so a measure added here is added everywhere, in one order.

The report figures (averages, unpriced requests, ...) derive from these sums: see `shared.reports.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Callable

from sqlalchemy import BigInteger, Column, Float, Table, case, func
from sqlalchemy.sql.elements import ColumnElement

from shared.store.records import CallRecord


@dataclass(frozen=True)
class Measure:
    name: str  # the column in every rollup, and the label of its sum in report queries
    type: type[BigInteger] | type[Float]
    of_call: Callable[[CallRecord], float]  # what one call adds (a merged call first takes its old figures away)
    over_calls: Callable[[Table], ColumnElement]  # the same sum over rows of `calls`, in SQL

    @property
    def whole(self) -> bool:
        """A count or a token sum: an integer wherever it is read (PostgreSQL sums them as numeric)."""
        return self.type is BigInteger


def _count_where(condition: Callable[[Table], ColumnElement]) -> Callable[[Table], ColumnElement]:
    return lambda calls: func.sum(case((condition(calls), 1), else_=0))


def _sum_of(column: str) -> Callable[[Table], ColumnElement]:
    return lambda calls: func.sum(calls.c[column])


def _count_of(column: str) -> Callable[[Table], ColumnElement]:
    return lambda calls: func.count(calls.c[column])


MEASURES: tuple[Measure, ...] = (
    Measure("requests", BigInteger, lambda call: 1, lambda calls: func.count()),
    # As `CallRecord.failed`: no response at all (status 0), or an error status.
    Measure("failed_requests", BigInteger, attrgetter("failed"), _count_where(lambda c: (c.c.status == 0) | (c.c.status >= 400))),
    Measure("prompt_tokens", BigInteger, attrgetter("prompt_tokens"), _sum_of("prompt_tokens")),
    Measure("completion_tokens", BigInteger, attrgetter("completion_tokens"), _sum_of("completion_tokens")),
    Measure("total_tokens", BigInteger, attrgetter("total_tokens"), _sum_of("total_tokens")),
    Measure("cached_tokens", BigInteger, attrgetter("cached_tokens"), _sum_of("cached_tokens")),
    Measure("reasoning_tokens", BigInteger, attrgetter("reasoning_tokens"), _sum_of("reasoning_tokens")),
    Measure("estimated_tokens_requests", BigInteger, attrgetter("tokens_estimated"), _count_where(lambda c: c.c.tokens_estimated)),
    Measure("priced_requests", BigInteger, lambda call: call.cost_usd is not None, _count_of("cost_usd")),
    Measure("cost_usd", Float, lambda call: call.cost_usd or 0.0, _sum_of("cost_usd")),
    Measure("duration_ms_sum", Float, lambda call: call.duration_ms or 0.0, _sum_of("duration_ms")),
    Measure("duration_count", BigInteger, lambda call: call.duration_ms is not None, _count_of("duration_ms")),
)
MEASURE_NAMES: tuple[str, ...] = tuple(m.name for m in MEASURES)
_OF_CALL = tuple(m.of_call for m in MEASURES)


def measure_columns() -> list[Column]:
    """The measure columns of one rollup table (every rollup has them all, never NULL: 0 is "none")."""
    return [Column(m.name, m.type, nullable=False) for m in MEASURES]


def call_figures(record: CallRecord, sign: int = 1) -> list[float]:
    """What the call adds to each measure, in `MEASURES` order (`sign` -1: what it takes away)."""
    return [sign * of_call(record) for of_call in _OF_CALL]


def sums_over_calls(calls: Table) -> list[ColumnElement]:
    """Each measure summed over rows of `calls`, labelled with its name (the rollups' columns, in order)."""
    return [m.over_calls(calls).label(m.name) for m in MEASURES]
