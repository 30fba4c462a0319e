"""The benchmarks' build cache: a rerun reuses a finished build, never a partial one, and a changed generator or
schema gets a new entry rather than the old ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.cache import PARTIAL, cached
from bench.usage_api import DERIVED_TABLES, GENERATOR_VERSION, app_schema, ledger_name
from shared.store.schema import metadata


class Builder:
    """Writes `content` where it is told to and counts its builds; `fail` interrupts it half-way."""

    def __init__(self, content: bytes = b"ledger", fail: BaseException | None = None) -> None:
        self.content, self.fail, self.builds = content, fail, 0

    def __call__(self, path: Path) -> None:
        self.builds += 1
        path.write_bytes(self.content[:2])
        if self.fail:
            raise self.fail
        path.write_bytes(self.content)


def test_a_rerun_with_the_same_key_reuses_the_finished_build(tmp_path: Path) -> None:
    entry, builder = tmp_path / "usage_api-gen1-5calls.db", Builder()

    assert cached(entry, builder) is True
    assert cached(entry, builder) is False

    assert builder.builds == 1 and entry.read_bytes() == b"ledger"
    assert cached(entry, Builder(b"again"), rebuild=True) is True and entry.read_bytes() == b"again"


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), SystemExit(143), RuntimeError("disk full")])
def test_an_interrupted_build_leaves_nothing_a_rerun_could_take_for_finished(tmp_path: Path, interruption) -> None:
    entry = tmp_path / "usage_api-gen1-5calls.db"

    with pytest.raises(type(interruption)):
        cached(entry, Builder(fail=interruption))

    assert list(tmp_path.iterdir()) == []
    builder = Builder()
    assert cached(entry, builder) is True and builder.builds == 1 and entry.read_bytes() == b"ledger"


def test_a_killed_builders_partial_is_cleared_and_a_running_ones_is_left_alone(tmp_path: Path) -> None:
    entry = tmp_path / "usage_api-gen1-5calls.db"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    abandoned = tmp_path / f"{entry.name}{PARTIAL}{gone.stdout.strip()}"
    abandoned.write_bytes(b"le")
    running = tmp_path / f"{entry.name}{PARTIAL}1"  # pid 1 is always running
    running.write_bytes(b"le")

    builder = Builder()
    assert cached(entry, builder) is True and builder.builds == 1

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([entry.name, running.name])


def test_a_new_build_deletes_the_older_ledgers_of_the_same_size_only(tmp_path: Path) -> None:
    older, other_size = tmp_path / "usage_api-gen0-5calls.db", tmp_path / "usage_api-gen0-7calls.db"
    older.write_bytes(b"old")
    other_size.write_bytes(b"old")

    cached(tmp_path / "usage_api-gen1-5calls.db", Builder(), supersedes="usage_api-*-5calls.db")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage_api-gen0-7calls.db", "usage_api-gen1-5calls.db"]


def test_the_ledger_name_changes_with_the_generator_the_size_and_the_apps_schema() -> None:
    schema = app_schema()

    assert f"gen{GENERATOR_VERSION}-" in ledger_name(1000, schema)
    assert ledger_name(1000, schema) == ledger_name(1000, app_schema())
    assert ledger_name(1000, schema) != ledger_name(2000, schema)
    assert ledger_name(1000, schema) != ledger_name(1000, schema.replace("INTEGER", "BIGINT", 1))
    # Every table but the read models each run derives in its side file (not written by the generator).
    kept = [table.name for table in metadata.sorted_tables if table.name not in DERIVED_TABLES]
    assert all(f"CREATE TABLE {name} " in schema for name in kept) and len(kept) == len(metadata.sorted_tables) - 3
    assert not any(f"CREATE TABLE {name} " in schema for name in DERIVED_TABLES)
