"""The figures of a usage report, each defined once from the measures' sums (`shared.store.measures`).

A report row's figures are finished by the database (one statement per report, see `usage`); the totals row
is finished in Python from the rows' sums. Both read the same formulas: a formula is written against a small
set of finishing steps (`Finish`), which SQL and Python each implement once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import BigInteger, Float, case, cast, func, literal, null

from shared.store.expressions import round_half_up, rounded
from shared.store.measures import MEASURE_NAMES, MEASURES


class Finish(Protocol):
    """The steps a figure's formula may use, in SQL (`InSql`) or in Python (`IN_PYTHON`)."""

    def whole(self, value: Any) -> Any: ...  # an integer sum as an integer
    def rounded(self, value: Any, digits: int) -> Any: ...  # half away from zero
    def ratio(
        self, part: Any, whole: Any, digits: int, empty: float | None = None
    ) -> Any: ...  # `empty` when whole is 0
    def when_any(self, count: Any, value: Any) -> Any: ...  # `value` where count > 0, else null


@dataclass(frozen=True)
class Figure:
    name: str  # as the contract spells it
    formula: Callable[[Mapping[str, Any], Finish], Any]  # from the sums by measure name
    sum: str | None = None  # the measure this figure is, as it is (the totals add the figure up)
    nullable: bool = False


def _as_is(name: str, measure: str) -> Figure:
    return Figure(name, lambda sums, finish: finish.whole(sums[measure]), sum=measure)


FIGURES: tuple[Figure, ...] = (
    _as_is("requests", "requests"),
    _as_is("failedRequests", "failed_requests"),
    _as_is("promptTokens", "prompt_tokens"),
    _as_is("completionTokens", "completion_tokens"),
    _as_is("totalTokens", "total_tokens"),
    _as_is("cachedTokens", "cached_tokens"),
    _as_is("reasoningTokens", "reasoning_tokens"),
    Figure("avgTotalTokens", lambda s, f: f.ratio(s["total_tokens"], s["requests"], 1, empty=0.0)),
    _as_is("estimatedTokensRequests", "estimated_tokens_requests"),
    Figure("unpricedRequests", lambda s, f: f.whole(s["requests"]) - f.whole(s["priced_requests"])),
    # No price known for any call of the row: null, never a silent 0.
    Figure("costUsd", lambda s, f: f.when_any(s["priced_requests"], f.rounded(s["cost_usd"], 6)), nullable=True),
    Figure("avgDurationMs", lambda s, f: f.ratio(s["duration_ms_sum"], s["duration_count"], 1), nullable=True),
)
FIGURE_NAMES: tuple[str, ...] = tuple(f.name for f in FIGURES)
# The sums no figure carries as they are: a report row carries them past its figures, for the totals.
HIDDEN_SUMS: tuple[str, ...] = tuple(m for m in MEASURE_NAMES if m not in {f.sum for f in FIGURES})
_WHOLE = {m.name for m in MEASURES if m.whole}


class _InPython:
    def whole(self, value: Any) -> int:
        return int(value)

    def rounded(self, value: Any, digits: int) -> float:
        return round_half_up(float(value), digits)

    def ratio(self, part: Any, whole: Any, digits: int, empty: float | None = None) -> float | None:
        return round_half_up(part / whole, digits) if whole else empty

    def when_any(self, count: Any, value: Any) -> Any:
        return value if count else None


IN_PYTHON = _InPython()


@dataclass(frozen=True)
class InSql:
    exact: bool  # the engine sums integers as integers (SQLite); PostgreSQL sums them as numeric

    def whole(self, value: Any) -> Any:
        return value if self.exact else cast(value, BigInteger)

    def rounded(self, value: Any, digits: int) -> Any:
        return rounded(value, digits)

    def ratio(self, part: Any, whole: Any, digits: int, empty: float | None = None) -> Any:
        quotient = rounded(cast(part, Float) / func.nullif(whole, 0), digits)
        return quotient if empty is None else func.coalesce(quotient, literal(empty, Float))

    def when_any(self, count: Any, value: Any) -> Any:
        return case((count > 0, value), else_=null())


def figure_columns(sums: Mapping[str, Any], *, exact: bool) -> list:
    """The figures as SQL over the merged sums, then the hidden sums: the columns of a report row after its keys."""
    finish = InSql(exact)
    figures = [f.formula(sums, finish).label(f.name) for f in FIGURES]
    return figures + [(finish.whole(sums[m]) if m in _WHOLE else sums[m]).label(m) for m in HIDDEN_SUMS]


def figures_of(sums: Mapping[str, Any]) -> dict[str, Any]:
    """The figures from the sums, in Python (as `figure_columns` computes them in SQL)."""
    return {f.name: f.formula(sums, IN_PYTHON) for f in FIGURES}


def _positions() -> dict[str, int]:
    """Where each measure's sum is in a report row's columns after its keys (a figure, or a hidden sum)."""
    at = {f.sum: i for i, f in enumerate(FIGURES) if f.sum is not None}
    at.update((m, len(FIGURES) + i) for i, m in enumerate(HIDDEN_SUMS))
    return {m: at[m] for m in MEASURE_NAMES}


_POSITIONS = _positions()


def totals_of_rows(rows: Sequence[Sequence[Any]], width: int) -> dict[str, Any]:
    """The totals row of a report from its rows (`width` key columns first): each sum added up, then the figures."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (width + len(FIGURES) + len(HIDDEN_SUMS))
    return figures_of({m: sum(filter(None, columns[width + i])) for m, i in _POSITIONS.items()})  # NULL: no such calls


def sums_of_row(row: Sequence[Any], width: int) -> dict[str, Any]:
    """The measures' sums of a report row (`width` key columns first); NULL sums (no such calls) as 0."""
    return {m: row[width + i] or 0 for m, i in _POSITIONS.items()}


class _Reads(dict):
    """Sums that remember which measures a formula reads (every formula reads all of its arguments)."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def __missing__(self, measure: str) -> int:
        self.read.add(measure)
        return 1


def _reads(figure: Figure) -> frozenset[str]:
    sums = _Reads()
    figure.formula(sums, IN_PYTHON)
    return frozenset(sums.read)


_READS = tuple(_reads(f) for f in FIGURES)


def row_with_sums(
    row: Sequence[Any], width: int, sums: Mapping[str, Any], changed: frozenset[str] | None = None
) -> tuple[Any, ...]:
    """The report row with its figures and hidden sums recomputed, in Python, from changed `sums` (only the
    figures reading a `changed` measure, when given: a PTU share changes two of twelve, on thousands of rows)."""
    values = list(row)
    for i, figure in _reading(changed):
        values[width + i] = figure.formula(sums, IN_PYTHON)
    values[width + len(FIGURES) :] = [sums[m] for m in HIDDEN_SUMS]
    return tuple(values)


@lru_cache(maxsize=8)
def _reading(changed: frozenset[str] | None) -> tuple[tuple[int, Figure], ...]:
    """(position, figure) of the figures reading a `changed` measure (all of them for None)."""
    return tuple(
        (i, f) for i, (f, reads) in enumerate(zip(FIGURES, _READS, strict=True)) if changed is None or reads & changed
    )
