"""What a `python -m devhost` mistake or failure looks like to the person who typed it: one line on stderr that
names what is wrong and what to do, exit code 2 for a usage error (arguments, settings, paths) and 1 for a
failure of something outside the command (a database that does not answer, a busy port)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

USAGE = 2
FAILURE = 1
SQL_URL_EXAMPLES = "sqlite:///.ledger/ledger.db or postgresql+psycopg://user@host:5432/ledger"


class CliError(Exception):
    """A mistake the command found itself; `message` is the whole line the user sees."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def shown_sql_url() -> str:
    """LEDGER_SQL_URL as it may be printed: without its password."""
    raw = os.environ.get("LEDGER_SQL_URL", "").strip()
    try:
        from sqlalchemy.engine import make_url

        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparseable: show only its scheme, which holds no secret
        return raw.split("://", 1)[0] + "://..." if "://" in raw else "(not a URL)"


def explain(exc: BaseException) -> tuple[str, int]:
    """The one line and exit code for an exception that ended a devhost command."""
    from sqlalchemy import exc as sa

    from shared.app.settings import SettingsError
    from shared.reports.teams import TeamsFileError
    from shared.store.errors import store_message

    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, TeamsFileError):
        return f"{exc}; fix the file, or empty LEDGER_TEAMS_FILE to run without teams", USAGE
    if isinstance(exc, SettingsError):
        return f"{exc}; set it in the environment or in local.settings.json", USAGE
    if isinstance(exc, (sa.ArgumentError, sa.NoSuchModuleError)):
        return (
            f"LEDGER_SQL_URL {shown_sql_url()} cannot be opened ({str(exc).splitlines()[0]}); "
            f"use a SQLAlchemy URL such as {SQL_URL_EXAMPLES}"
        ), USAGE
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg2", "pyodbc", "pymssql", "MySQLdb", "pymysql"):
        return (
            f"LEDGER_SQL_URL {shown_sql_url()} needs the driver {exc.name}, which is not installed; "
            f"use one of {SQL_URL_EXAMPLES} (mssql+pyodbc for Azure SQL)"
        ), USAGE
    if isinstance(exc, sa.DBAPIError):
        return (
            f"cannot reach the database of LEDGER_SQL_URL {shown_sql_url()} ({store_message(exc)}); "
            "start it, or point LEDGER_SQL_URL at one that runs"
        ), FAILURE
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"{exc.filename or 'the port'} is already in use; stop what listens there or choose another --port",
            FAILURE,
        )
    if isinstance(exc, (socket.gaierror,)) or (isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL):
        return f"cannot listen on {exc.filename or 'that address'} ({exc.strerror or exc}); use --host 127.0.0.1", USAGE
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}; check the path and its folder", USAGE
    return (
        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'} "
        "(run again with --debug for the traceback)"
    ), FAILURE


def input_files(paths: list[str], what: str = "JSON Lines (.jsonl) or Event Hubs Capture (.avro) files") -> list[Path]:
    """The named input files, or a CliError for the first name that is not a readable file."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            raise CliError(f"{name} is a directory; name the files in it instead, e.g. {path / '*.avro'} ({what})")
        if not path.exists():
            raise CliError(
                f"{name}: no such file; give {what} (`python -m devhost sample --out month.jsonl` writes one)"
            )
        found.append(path)
    return found


def bind_error(exc: OSError, host: str, port: int) -> OSError:
    """`exc` from binding the server, labelled with the address so `explain` can name it."""
    exc.filename = f"{host}:{port}"
    return exc
