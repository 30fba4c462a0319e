"""The rollups' measures, each defined once: its column, its SQL type, what one call adds to it and its sum
over raw calls in SQL. The rollup tables' columns, the deltas ingest applies, the reports' raw edges and their
merged sums are all generated from `MEASURES`, so a measure added here is added everywhere, in one order.

The report figures (averages, unpriced requests, ...) derive from these sums: see `shared.reports.figures`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Float, Table, case, func
from sqlalchemy.sql.elements import ColumnElement

from shared.store.records import CallRecord


@dataclass(frozen=True)
class Measure:
    name: str  # the column in every rollup, and the label of its sum in report queries
    type: type[BigInteger] | type[Float]
    of_call: str  # what one call adds, as a Python expression over `call` (a CallRecord); see `call_figures`
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
    Measure("requests", BigInteger, "1", lambda calls: func.count()),
    # As `CallRecord.failed`: no response at all (status 0), or an error status.
    Measure(
        "failed_requests", BigInteger, "call.failed", _count_where(lambda c: (c.c.status == 0) | (c.c.status >= 400))
    ),
    Measure("prompt_tokens", BigInteger, "call.prompt_tokens", _sum_of("prompt_tokens")),
    Measure("completion_tokens", BigInteger, "call.completion_tokens", _sum_of("completion_tokens")),
    Measure("total_tokens", BigInteger, "call.total_tokens", _sum_of("total_tokens")),
    Measure("cached_tokens", BigInteger, "call.cached_tokens", _sum_of("cached_tokens")),
    Measure("reasoning_tokens", BigInteger, "call.reasoning_tokens", _sum_of("reasoning_tokens")),
    Measure(
        "estimated_tokens_requests", BigInteger, "call.tokens_estimated", _count_where(lambda c: c.c.tokens_estimated)
    ),
    Measure("priced_requests", BigInteger, "call.cost_usd is not None", _count_of("cost_usd")),
    Measure("cost_usd", Float, "call.cost_usd or 0.0", _sum_of("cost_usd")),
    Measure("duration_ms_sum", Float, "call.duration_ms or 0.0", _sum_of("duration_ms")),
    Measure("duration_count", BigInteger, "call.duration_ms is not None", _count_of("duration_ms")),
)
MEASURE_NAMES: tuple[str, ...] = tuple(m.name for m in MEASURES)


def measure_columns() -> list[Column]:
    """The measure columns of one rollup table (every rollup has them all, never NULL: 0 is "none")."""
    return [Column(m.name, m.type, nullable=False) for m in MEASURES]


def _compile_call_figures() -> Callable[[CallRecord, int], list[float]]:
    """`call_figures` as one list display: it runs for every call ingested, and twelve calls of small functions
    per call cost ~3x as much (2.0 against 0.6 us, measured). Built from the fixed expressions above, as
    `collections.namedtuple` builds its classes."""
    source = f"def call_figures(call, sign=1):\n    return [{', '.join(f'sign * ({m.of_call})' for m in MEASURES)}]\n"
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - module constants, never input
    return namespace["call_figures"]


call_figures = _compile_call_figures()
call_figures.__doc__ = "What the call adds to each measure, in `MEASURES` order (`sign` -1: what it takes away)."


def sums_over_calls(calls: Table) -> list[ColumnElement]:
    """Each measure summed over rows of `calls`, labelled with its name (the rollups' columns, in order)."""
    return [m.over_calls(calls).label(m.name) for m in MEASURES]
