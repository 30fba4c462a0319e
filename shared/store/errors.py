"""Which store errors belong to one call's data, and which to the store: the one place that tells them apart.

A data error is a value the database refuses (too long, out of range, a character it cannot hold, a
constraint): it belongs to the call, which ingest isolates and dead-letters while the rest of the batch is
written. Anything else fails the batch so the host retries it whole later: the store unreachable or timing
out, a lock, a permission, a schema out of date, or two writers racing on the same new key (a unique
violation: on retry the call is found and counted as a duplicate).
"""

from __future__ import annotations

from sqlalchemy import exc

# Drivers pick the class from the SQLSTATE: class 22 (data exception) is DataError and 23 (integrity) is
# IntegrityError in psycopg and pyodbc alike; connection (08), timeout (HYT00) and deadlock (40001) errors are
# never those (https://github.com/mkleehammer/pyodbc/wiki/Exceptions, psycopg.errors).
_UNIQUE_SQLSTATE = "23505"  # PostgreSQL unique_violation
# SQLite, and SQL Server errors 2627 and 2601 (pyodbc reports both as SQLSTATE 23000 with the message).
_UNIQUE_MESSAGES = (
    "UNIQUE constraint failed",
    "Violation of PRIMARY KEY constraint",
    "Violation of UNIQUE KEY constraint",
    "Cannot insert duplicate key",
)


def is_data_error(error: BaseException) -> bool:
    """True when `error` is the database (or its driver) refusing a value of the rows being written."""
    if isinstance(error, exc.IntegrityError):
        return not _is_unique_violation(error)
    if isinstance(error, exc.DataError):
        return True
    if isinstance(error, exc.DBAPIError):  # OperationalError, ProgrammingError, InterfaceError, InternalError, ...
        return False
    if isinstance(error, exc.StatementError):  # a parameter SQLAlchemy could not convert
        return isinstance(error.orig, (ValueError, OverflowError, TypeError))
    # Raised by the driver while binding a parameter, before the database saw the row: sqlite3 for an int
    # beyond 64 bits (OverflowError), any driver for a lone surrogate (UnicodeEncodeError).
    return isinstance(error, (OverflowError, UnicodeError))


def _is_unique_violation(error: exc.IntegrityError) -> bool:
    if getattr(error.orig, "sqlstate", None) == _UNIQUE_SQLSTATE:
        return True
    message = str(error.orig)
    return any(marker in message for marker in _UNIQUE_MESSAGES)


def store_message(error: BaseException) -> str:
    """The database's own words for `error`, without the statement or its parameters (they hold call text)."""
    cause = error.orig if isinstance(error, exc.StatementError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".strip()
