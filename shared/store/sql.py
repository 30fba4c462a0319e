"""The SQL store: one object the use cases hold, over a SQLAlchemy engine of any supported dialect."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, event, text

from . import writes
from .engine import TokenProvider, create_store_engine


class SqlStore:
    """Transactions and the write operations ingest needs; queries live in the read-side modules."""

    load_calls = staticmethod(writes.load_calls)
    existing_call_ids = staticmethod(writes.existing_call_ids)
    write_calls = staticmethod(writes.write_calls)
    write_dead_letters = staticmethod(writes.write_dead_letters)
    load_parts = staticmethod(writes.load_parts)
    save_parts = staticmethod(writes.save_parts)
    delete_parts = staticmethod(writes.delete_parts)
    stale_part_keys = staticmethod(writes.stale_part_keys)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":
            _sqlite_explicit_transactions(engine)

    @classmethod
    def from_url(cls, url: str, *, token_provider: TokenProvider | None = None, create_schema: bool = True) -> "SqlStore":
        return cls(create_store_engine(url, token_provider=token_provider, create_schema=create_schema))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that takes the write lock up front, so a batch never dies half-way on a lock."""
        with self.engine.connect() as conn:
            with conn.execution_options(sqlite_immediate=True).begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_explicit_transactions(engine: Engine) -> None:
    """pysqlite begins transactions lazily and in DEFERRED mode; take control so writers BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
