"""A cache for what a benchmark builds once and reads many times (bench/usage_api.py's 10M-call ledger).

An entry's name is its key (the caller puts the generator's version and the size in it). An entry is whole or
absent: it is built under a temporary name beside it and renamed into place only when the build has returned,
so an interrupted build is never taken for a finished one. Callers open entries read-only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parents[1] / ".bench-cache"  # gitignored and funcignored
PARTIAL = ".partial-"  # an entry being built: <name>.partial-<pid of the builder>


def cached(entry: Path, build: Callable[[Path], None], *, rebuild: bool = False, supersedes: str = "") -> bool:
    """Make sure `entry` exists, calling `build(path)` to write it at a temporary path first when it does not
    (or when `rebuild`). `supersedes` is a glob of older entries in the same folder that a new build replaces
    (their generator or schema changed); they are deleted once the new entry is in place. True if it built."""
    if entry.exists() and not rebuild:
        return False
    entry.parent.mkdir(parents=True, exist_ok=True)
    _clear_abandoned(entry)
    partial = entry.with_name(f"{entry.name}{PARTIAL}{os.getpid()}")
    try:
        build(partial)
        _sync(partial)
        os.replace(partial, entry)  # atomic: readers see no entry or the whole one
        _sync(entry.parent)
    finally:
        for leftover in entry.parent.glob(partial.name + "*"):  # the partial itself if the build failed, journals
            leftover.unlink()
    for older in entry.parent.glob(supersedes) if supersedes else ():
        if older != entry and PARTIAL not in older.name:
            older.unlink()
    return True


def _clear_abandoned(entry: Path) -> None:
    """Partial builds of this entry whose builder is gone (killed before it could clean up)."""
    for partial in entry.parent.glob(f"{entry.name}{PARTIAL}*"):
        pid = partial.name.removeprefix(f"{entry.name}{PARTIAL}").split("-")[0]
        if not (pid.isdigit() and _running(int(pid))):
            partial.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync(path: Path) -> None:
    """Flush to disk before the rename, so a crash cannot leave a complete-looking name over unwritten pages."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
