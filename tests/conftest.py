"""Fixtures shared by every test layer: a real SQLite store and an app context over it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.app.settings import load_settings  # noqa: E402 - the repository root goes on sys.path first
from shared.app.wiring import AppContext  # noqa: E402 - the repository root goes on sys.path first
from shared.ingest.redaction import configure_redaction  # noqa: E402 - the repository root goes on sys.path first
from shared.store.sql import SqlStore  # noqa: E402 - the repository root goes on sys.path first
from tests.azurite import azurite, azurite_queue  # noqa: E402, F401  (the repository root goes on sys.path first; session fixtures for every test layer)


@pytest.fixture(autouse=True)
def default_redaction():
    """LEDGER_REDACT is process-wide (set when a context is built): every test starts and ends on the default."""
    configure_redaction("secrets")
    yield
    configure_redaction("secrets")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def store(sqlite_url: str):
    store = SqlStore.from_url(sqlite_url)
    yield store
    store.dispose()


def make_context(store: SqlStore, **settings: str) -> AppContext:
    env = {"LEDGER_AUTH": "dev", "LEDGER_EMAIL_MODE": "off", **settings}
    return AppContext(settings=load_settings(env), store=store)


@pytest.fixture
def context(store: SqlStore) -> AppContext:
    return make_context(store)
