"""`bench/ingest.py --breakdown`: the SQL an ingest run spends is put in the family of the table it writes, and
commits apart, on a real SQLite engine; what ran before the timer was made is not counted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from bench.sql_time import CALLS, CUMULATIVE_ROLLUPS, OTHER, PLAIN_ROLLUPS, SqlTimer, family_of


def test_each_statement_lands_in_the_family_of_the_table_it_names_first() -> None:
    assert family_of("INSERT INTO calls (call_id, time) VALUES (?, ?)") == CALLS
    assert family_of("INSERT INTO call_payloads (call_id) VALUES (?)") == CALLS
    assert family_of("SELECT call_id FROM calls WHERE call_id IN (?, ?)") == CALLS
    assert family_of("INSERT INTO usage_hourly_cuts (cut) VALUES (?) ON CONFLICT (cut) DO UPDATE SET x = 1") == (
        PLAIN_ROLLUPS
    )
    assert family_of("UPDATE usage_daily SET requests=(usage_daily.requests + ?) WHERE day = ?") == PLAIN_ROLLUPS
    assert family_of("INSERT INTO usage_cumh_team (hour) SELECT ? FROM usage_cumh_team WHERE hour = ?") == (
        CUMULATIVE_ROLLUPS
    )
    assert family_of("UPDATE usage_cum_marks SET last_day=usage_cum_marks.last_day WHERE month = ?") == (
        CUMULATIVE_ROLLUPS
    )
    assert family_of("INSERT INTO display_names (kind) VALUES (?)") == OTHER
    assert family_of("SAVEPOINT sa_savepoint_1") == OTHER


def test_a_timed_run_counts_its_statements_by_family_and_its_commits(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        for table in ("calls", "usage_hourly", "usage_cumh_team", "display_names"):
            conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, value TEXT)")
    with engine.begin() as conn:  # before the timer: not counted
        conn.exec_driver_sql("INSERT INTO calls (value) VALUES (?)", [("early",)])

    timer = SqlTimer(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO calls (value) VALUES (?)", [("a",), ("b",)])
        conn.execute(text("INSERT INTO usage_hourly (value) VALUES (:v)"), {"v": "x"})
        conn.exec_driver_sql("INSERT INTO usage_cumh_team (value) VALUES (?)", ("y",))
        conn.exec_driver_sql("INSERT INTO display_names (value) VALUES (?)", ("z",))

    assert set(timer.seconds) == {CALLS, PLAIN_ROLLUPS, CUMULATIVE_ROLLUPS, OTHER, "commit"}
    assert all(seconds > 0 for seconds in timer.seconds.values())
    with engine.connect() as conn:  # the statements ran once each, through the timer
        assert conn.exec_driver_sql("SELECT value FROM calls ORDER BY id").scalars().all() == ["early", "a", "b"]
        assert conn.exec_driver_sql("SELECT count(*) FROM usage_hourly").scalar() == 1
