"""Engines for the three places the ledger runs: a SQLite file locally, Azure SQL in Azure, PostgreSQL in tests.

Azure SQL is reached with an Entra access token handed to the ODBC driver at connect time (no passwords);
the token comes from a callable so this module never imports an Azure SDK.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from shared.store import schema_extensions  # noqa: F401  (tables other modules add, created with the rest)
from shared.store.schema import metadata

logger = logging.getLogger(__name__)

SQL_COPT_SS_ACCESS_TOKEN = 1256  # msodbcsql connection attribute for an Entra access token
SQLITE_BUSY_SECONDS = 30.0  # how long a SQLite writer waits for the lock before "database is locked"
TokenProvider = Callable[[], str]


def create_store_engine(url: str, *, token_provider: TokenProvider | None = None, create_schema: bool = True) -> Engine:
    """An engine for `url` with the dialect's sensible defaults; creates the schema where that is ours to do."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url)
    elif backend == "mssql":
        engine = _mssql_engine(url, token_provider)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    # Azure SQL gets its schema from infra/sql/schema.sql at provisioning; creating it here too would need
    # DDL rights the app's identity should not have.
    if create_schema and backend != "mssql":
        metadata.create_all(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every sqlite test
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API) never block the ingest writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    return engine


def _mssql_engine(url: str, token_provider: TokenProvider | None) -> Engine:
    parsed = make_url(url)
    if token_provider is not None and (parsed.username or parsed.password or "authentication" in parsed.query):
        raise ValueError(
            "an Azure SQL URL signed in with an Entra token names no user, password or authentication=; "
            "use mssql+pyodbc://@<server>.database.windows.net/<db>?driver=ODBC+Driver+18+for+SQL+Server"
        )
    engine = create_engine(url, pool_pre_ping=True, fast_executemany=True, pool_recycle=1800)
    if token_provider is None:
        logger.warning("LEDGER_SQL_URL points at SQL Server but no Entra token provider is wired")
        return engine

    @event.listens_for(engine, "do_connect")
    def _inject_token(_dialect, _conn_rec, cargs, cparams) -> None:
        cargs[0] = without_sign_in(cargs[0])
        token = access_token_struct(token_provider())
        cparams["attrs_before"] = {**cparams.get("attrs_before", {}), SQL_COPT_SS_ACCESS_TOKEN: token}

    return engine


# One `key=value` attribute of an ODBC connection string; a value in braces may hold `;` and escapes `}` as `}}`.
_ODBC_ATTRIBUTE = re.compile(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*);?")
# Given an access token, msodbcsql refuses a connection string that also names UID, PWD, Authentication or
# Trusted_Connection (https://learn.microsoft.com/sql/connect/odbc/using-azure-active-directory, "Authenticating
# with an access token"). SQLAlchemy adds Trusted_Connection=Yes to a URL without a user; its mssql+pyodbc docs,
# "Connecting to databases with access tokens", take it out again in do_connect, as this hook does.
_SIGN_IN_ATTRIBUTES = {"uid", "pwd", "authentication", "trusted_connection"}


def without_sign_in(connection_string: str) -> str:
    """`connection_string` without the attributes that name a sign-in other than an access token."""
    kept = [
        match.group(0).strip().rstrip(";")
        for match in _ODBC_ATTRIBUTE.finditer(connection_string)
        if match.group(1).lower() not in _SIGN_IN_ATTRIBUTES
    ]
    return ";".join(kept)


def access_token_struct(token: str) -> bytes:
    """The ACCESSTOKEN structure msodbcsql reads: a little-endian 4-byte length, then the token in UTF-16-LE."""
    encoded = token.encode("utf-16-le")
    return struct.pack(f"<I{len(encoded)}s", len(encoded), encoded)
