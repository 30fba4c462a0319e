"""The read models a bench run derives from its cached ledger (the PTU days, `shared.reports.ptu_days`), kept in
a side file of the run: the cached ledger stays read-only and unchanged, and its cache key leaves them out.

The side file is the connection's main database and the ledger is attached read-only under it: SQLite resolves a
table name in main first, then in the attached databases (https://www.sqlite.org/lang_attach.html), so the app's
unqualified statements read the generated tables from the ledger and write the read models to the side file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event

from shared.reports.ptu import PtuPlan
from shared.store.schema import metadata
from shared.store.sql import SqlStore


@contextmanager
def store_with_read_models(ledger: Path, derived: tuple[str, ...]) -> Iterator[SqlStore]:
    """The app's SqlStore over a fresh side file (holding the `derived` tables, empty) with `ledger` attached
    read-only; the side file is deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-read-models-"))  # never beside the cached ledger
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#uri-connections
    engine = create_engine(f"sqlite:///file:{folder / 'read_models.db'}?uri=true")

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection, _record) -> None:
        dbapi_connection.execute("ATTACH DATABASE ? AS ledger", (f"file:{ledger}?mode=ro",))

    tables = [metadata.tables[name] for name in derived]
    metadata.create_all(engine, tables=tables, checkfirst=False)  # a check would find the ledger's own (if any)
    store = SqlStore(engine)
    try:
        yield store
    finally:
        store.dispose()
        shutil.rmtree(folder)


def refresh_ptu(store: SqlStore, plan: PtuPlan, end: datetime) -> tuple[float, float]:
    """Build the PTU read model of every closed day (timed), then again after one day's change count moved, as a
    late call moves it (timed); the seconds of each."""
    from shared.jobs.ptu_refresh import refresh_ptu_days
    from shared.store.rollups import count_day_changes

    started = time.perf_counter()
    done = refresh_ptu_days(store, plan, end)
    every = time.perf_counter() - started
    print(f"  PTU read model: {done.built} entry-days built in {every:.1f} s", file=sys.stderr, flush=True)
    with store.write() as conn:
        count_day_changes(conn, {((end - timedelta(days=2)).replace(tzinfo=None), plan.entries[0].deployment)})
    started = time.perf_counter()
    done = refresh_ptu_days(store, plan, end)
    one = time.perf_counter() - started
    assert done.built == 1, done
    with store.write() as conn:
        conn.exec_driver_sql("ANALYZE main")  # the side file's statistics, as the ledger has its own
    return every, one
