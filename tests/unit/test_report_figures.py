"""A report's rows are finished by the database and its totals row by Python, from one formula per figure:
the two must give the same figures for the same sums, edge cases included (no calls priced, none timed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Float, create_engine, literal, select

from shared.reports.figures import FIGURE_NAMES, figure_columns, figures_of
from shared.store.measures import MEASURES

_ENGINE = create_engine("sqlite://")


def _sums():
    def one(measure):
        if measure.whole:
            return st.integers(min_value=0, max_value=10**12)
        return st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda value: round(value, 3))

    return st.fixed_dictionaries({m.name: one(m) for m in MEASURES})


@settings(max_examples=200, deadline=None)
@given(_sums())
def test_the_database_and_python_finish_the_same_sums_to_the_same_figures(sums):
    columns = figure_columns(
        {m.name: literal(sums[m.name], BigInteger if m.whole else Float) for m in MEASURES}, exact=True
    )
    with _ENGINE.connect() as conn:
        row = conn.execute(select(*columns)).one()
    in_sql = dict(zip(FIGURE_NAMES, row[: len(FIGURE_NAMES)], strict=True))  # the hidden sums follow
    assert in_sql == figures_of(sums)


def test_a_row_without_priced_or_timed_calls_shows_no_cost_and_no_duration_rather_than_zero():
    sums = {m.name: 0 for m in MEASURES} | {"requests": 3, "total_tokens": 10}
    figures = figures_of(sums)
    assert figures["costUsd"] is None and figures["avgDurationMs"] is None
    assert figures["unpricedRequests"] == 3 and figures["avgTotalTokens"] == 3.3
