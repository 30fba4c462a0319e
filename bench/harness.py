"""What every ingest benchmark sets up the same way: a throwaway SQLite ledger and the app's own function."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_workdir(prefix: str) -> Path:
    """A temp folder for the bench's databases, removed when the process exits (an ingest run leaves ~6 GB of
    databases: reruns filled the disk); the app runs as the demo does (dev auth, no mail)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.environ.update(
        {"LEDGER_SQL_URL": f"sqlite:///{workdir / 'ledger.db'}", "LEDGER_AUTH": "dev", "LEDGER_EMAIL_MODE": "off"}
    )
    os.chdir(ROOT)
    return workdir


@lru_cache(maxsize=1)
def ingest_function() -> Callable:
    """The app's own registered `ingest` function (the FunctionApp indexes its functions once per process)."""
    import function_app

    return next(f for f in function_app.app.get_functions() if f.get_function_name() == "ingest").get_user_function()
