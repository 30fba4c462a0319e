"""Store errors told apart on real stores: a value the database refuses is data; anything else is the store."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.exc import OperationalError

from shared.store.errors import is_data_error, store_message
from shared.store.schema import calls
from shared.store.sql import SqlStore
from shared.store.writes import bulk_insert
from tests.integration.conftest import REFUSED_MODEL, refuse_model
from tests.net import free_port

TIME = datetime(2026, 11, 27, 9, 0)


def _row(call_id: str = "call-1", **values) -> dict:
    row = {column.name: None for column in calls.columns}
    row.update(
        call_id=call_id,
        time=TIME,
        hour=TIME,
        ingested_at=TIME,
        source="capture/v1",
        operation="chat.completions",
        status=200,
        streamed=False,
        content_filtered=False,
        prompt_tokens=1,
        completion_tokens=1,
        total_tokens=2,
        cached_tokens=0,
        reasoning_tokens=0,
        tokens_estimated=False,
        truncated=False,
        body_missing=False,
        stream_incomplete=False,
    )
    return row | values


def _error_writing(store: SqlStore, *rows: dict, setup: str | None = None) -> BaseException:
    with pytest.raises(Exception) as caught, store.write() as conn:
        if setup:
            conn.exec_driver_sql(setup)
        bulk_insert(conn, calls, list(rows))
    return caught.value


BOTH, POSTGRESQL = {"sqlite", "postgresql"}, {"postgresql"}


@pytest.mark.parametrize(
    "values, refused_by",
    [
        ({"model": "m" * 300}, POSTGRESQL),  # value too long (SQLite keeps any length)
        ({"model": "nul\x00inside"}, POSTGRESQL),  # PostgreSQL text holds no NUL
        ({"status": 2**40}, POSTGRESQL),  # beyond INT (SQLite integers are 64-bit)
        ({"cached_tokens": 2**64}, BOTH),  # beyond BIGINT: the database, or sqlite3 binding it
        ({"model": "lone \ud800"}, BOTH),  # no driver encodes it
        ({"status": None}, BOTH),  # NOT NULL
        ({"model": REFUSED_MODEL}, BOTH),  # a constraint the ledger does not know
    ],
    ids=["long", "nul", "int", "bigint", "surrogate", "not-null", "check"],
)
def test_a_value_the_database_refuses_is_a_data_error_with_its_message(any_store, values, refused_by):
    refuse_model(any_store)
    if any_store.dialect not in refused_by:
        with any_store.write() as conn:
            bulk_insert(conn, calls, [_row(**values)])
        return
    error = _error_writing(any_store, _row(**values))
    assert is_data_error(error), error
    message = store_message(error)
    assert message and "INSERT" not in message and "[parameters" not in message  # the database's words, no call text


def test_two_writers_racing_on_the_same_new_call_is_not_a_data_error(any_store):
    with any_store.write() as conn:
        bulk_insert(conn, calls, [_row("raced")])
    error = _error_writing(any_store, _row("raced"))
    assert not is_data_error(error)  # the host's retry finds the call and counts it as a duplicate


def test_a_store_that_fails_is_not_a_data_error(any_store):
    broken = (
        "CREATE TRIGGER offline BEFORE INSERT ON calls BEGIN INSERT INTO store_offline VALUES (1); END"
        if any_store.dialect == "sqlite"
        else "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)"
    )
    error = _error_writing(any_store, _row(), setup=broken)
    assert isinstance(error, OperationalError) and not is_data_error(error)


def test_a_store_that_cannot_be_reached_is_not_a_data_error():
    store = SqlStore.from_url(
        f"postgresql+psycopg://ledger@127.0.0.1:{free_port()}/postgres?connect_timeout=2", create_schema=False
    )
    try:
        with pytest.raises(OperationalError) as caught:
            store.ping()
        assert not is_data_error(caught.value)
    finally:
        store.dispose()
