"""The CPU time a function spends in this process, call by call: on a shared machine wall-clock time swings
by a quarter from one run to the next, while CPU time moves by a few percent. `bench/ingest.py` puts it beside
the wall-clock figures, and gives the same clock to a baseline it runs in a child process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class CpuClock:
    """`function` wrapped: each call's process CPU seconds (user + system) are kept in `calls`."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls: list[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.calls.append(time.process_time() - started)

    def seconds(self, *, skip: int = 1) -> float:
        """CPU seconds of every call but the first `skip` (the warm-up call of `_run_pipeline`)."""
        return sum(self.calls[skip:])
