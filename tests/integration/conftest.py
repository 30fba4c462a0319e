"""Real servers for integration tests, started by the tests themselves on loopback."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from shared.store.sql import SqlStore
from tests.conftest import make_context
from tests.net import free_port


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (.ci/run does)")
    return found


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster: initdb in a temp dir, a free loopback port, stopped at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    data, sockets = workdir / "data", workdir / "run"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root; use the postgres system account
        account = pwd.getpwnam("postgres")
        os.chown(workdir, account.pw_uid, account.pw_gid)
        os.chown(sockets, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "ledger", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        for _ in range(50):
            if (
                subprocess.run(
                    [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
                ).returncode
                == 0
            ):
                break
            time.sleep(0.1)
        yield f"postgresql+psycopg://ledger@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """The same store tests on a SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        store = SqlStore.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        store = SqlStore.from_url(url)
        from shared.store.schema import metadata

        metadata.drop_all(store.engine)
        metadata.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def context(any_store):
    """Integration tests run on both stores unless they ask for the SQLite `store` by name."""
    return make_context(any_store)


REFUSED_MODEL = "refused-by-the-store"


def refuse_model(store: SqlStore, model: str = REFUSED_MODEL) -> None:
    """A rule the ledger's bounds do not know (as a store of its own may have): the store refuses one model name."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_model BEFORE INSERT ON calls WHEN NEW.model = '{model}' "
                "BEGIN SELECT RAISE(ABORT, 'refuse_model: the store refuses this model'); END"
            )
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE calls ADD CONSTRAINT refuse_model CHECK (model IS NULL OR model <> '{model}')"
            )
