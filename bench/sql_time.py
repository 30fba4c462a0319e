"""Where an ingest run's time goes: the seconds the SQL driver spends per family of tables, and in commits.

`bench/ingest.py --breakdown` puts them beside the run's wall-clock time; what is left is Python (decoding,
masking, bounds, pricing, rollup sums, building the rows) and SQLAlchemy's own calls. Statements are timed
through SQLAlchemy's `do_execute` / `do_executemany` dialect events (the handler runs the statement itself,
https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.DialectEvents), commits by wrapping the
engine's dialect object: measurement only, the app's code is not touched.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

# A statement's table: the first one it names after INSERT INTO / UPDATE / FROM / DELETE FROM.
_TABLE = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)

CALLS = "calls and their text (and the duplicate check)"
PLAIN_ROLLUPS = "rollups: hourly and daily, wide and cuts"
CUMULATIVE_ROLLUPS = "rollups: cumulative (month-to-date, day-to-hour)"
OTHER = "other statements (display names, change counts, dead letters, ...)"
FAMILIES = (CALLS, PLAIN_ROLLUPS, CUMULATIVE_ROLLUPS, OTHER)
_PLAIN_ROLLUP_TABLES = ("usage_hourly", "usage_daily", "usage_hourly_cuts", "usage_daily_cuts")


def family_of(statement: str) -> str:
    """The family of the table a statement names first."""
    found = _TABLE.search(statement)
    table = found.group(1).lower() if found else ""
    if table in ("calls", "call_payloads"):
        return CALLS
    if table in _PLAIN_ROLLUP_TABLES:
        return PLAIN_ROLLUPS
    if table.startswith("usage_cum"):  # usage_cum_<cut>, usage_cumh_<cut> and their marks
        return CUMULATIVE_ROLLUPS
    return OTHER


class SqlTimer:
    """Seconds spent in the driver per statement family and in commits, from its creation on."""

    def __init__(self, engine: Engine) -> None:
        self.seconds: Counter[str] = Counter()
        event.listen(engine, "do_execute", self._execute)
        event.listen(engine, "do_executemany", self._execute_many)
        dialect = engine.dialect
        commit = dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.perf_counter()
            try:
                commit(dbapi_connection)
            finally:
                self._add("commit", started)

        dialect.do_commit = timed_commit  # type: ignore[method-assign]  # an instance attribute, this engine only

    def _add(self, family: str, started: float) -> None:
        self.seconds[family] += time.perf_counter() - started

    def _execute(self, cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        return self._timed(cursor.execute, statement, parameters)

    def _execute_many(self, cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        return self._timed(cursor.executemany, statement, parameters)

    def _timed(self, run: Callable[[str, Any], Any], statement: str, parameters: Any) -> bool:
        started = time.perf_counter()
        try:
            run(statement, parameters)
        finally:
            self._add(family_of(statement), started)
        return True  # executed here: SQLAlchemy does not run it again
