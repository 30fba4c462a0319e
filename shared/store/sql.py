"""The SQL store: one object the use cases hold, over a SQLAlchemy engine of any supported dialect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError

from shared.store import writes
from shared.store.engine import SQLITE_BUSY_SECONDS, TokenProvider, create_store_engine

# How each engine says "a lock was not granted in time": SQLite's busy timeout ran out, PostgreSQL's
# lock_timeout (SQLSTATE 55P03, lock_not_available), SQL Server's LOCK_TIMEOUT (error 1222).
_SQLITE_BUSY = ("database is locked", "database table is locked")
_PG_LOCK_NOT_AVAILABLE = "55P03"
_MSSQL_LOCK_TIMEOUT = "(1222)"


class StoreBusy(Exception):
    """A transaction waited longer than its budget for a lock another one holds: retry later, nothing was written."""

    def __init__(self, waited: float, cause: str) -> None:
        super().__init__(f"the store stayed locked for more than {waited:g} s ({cause[:200]})")
        self.waited = waited


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
    def from_url(cls, url: str, *, token_provider: TokenProvider | None = None, create_schema: bool = True) -> SqlStore:
        return cls(create_store_engine(url, token_provider=token_provider, create_schema=create_schema))

    @contextmanager
    def write(self, lock_wait: float = SQLITE_BUSY_SECONDS) -> Iterator[Connection]:
        """One transaction that takes the write lock up front, so a batch never dies half-way on a lock.

        A lock not granted within `lock_wait` seconds raises StoreBusy (the transaction is rolled back), on
        every engine: the HTTP API gives its writes a short budget and answers 503 with Retry-After.
        """
        with (
            self.engine.connect() as conn,
            _busy_as(StoreBusy, lock_wait),
            _lock_budget(conn, self.dialect, lock_wait),
            conn.execution_options(sqlite_immediate=True).begin(),
        ):
            if self.dialect == "postgresql":  # for this transaction only
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait * 1000)}")
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, _busy_as(StoreBusy, SQLITE_BUSY_SECONDS):
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


@contextmanager
def _lock_budget(conn: Connection, dialect: str, seconds: float) -> Iterator[None]:
    """The lock wait of one transaction on engines where it is a connection setting (restored for the pool)."""
    if dialect == "sqlite" and seconds != SQLITE_BUSY_SECONDS:
        driver = conn.connection.driver_connection
        assert driver is not None  # None only once invalidated; this connection was just checked out
        driver.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            driver.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")
    elif dialect == "mssql":
        conn.exec_driver_sql(f"SET LOCK_TIMEOUT {int(seconds * 1000)}")
        try:
            yield
        finally:
            conn.exec_driver_sql("SET LOCK_TIMEOUT -1")
    else:
        yield


@contextmanager
def _busy_as(error: type[StoreBusy], waited: float) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if _is_lock_timeout(exc):
            raise error(waited, str(exc.orig)) from exc
        raise


def _is_lock_timeout(exc: DBAPIError) -> bool:
    orig = exc.orig
    message = str(orig)
    return (
        getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE  # psycopg 3
        or message.startswith(_SQLITE_BUSY)
        or _MSSQL_LOCK_TIMEOUT in message
    )  # pyodbc: "... Lock request time out period exceeded. (1222) ..."
