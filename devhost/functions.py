"""The app's registered functions as the Functions host sees them: found through the FunctionApp's own
metadata (`get_function_json`), never re-declared here, so the local host cannot drift from the app."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_SETTING = re.compile(r"%([^%]+)%")


def resolve(value: str) -> str:
    """Expand `%APP_SETTING%` expressions as the host does; an unset setting of ours takes its documented
    default (in Azure the Bicep sets every one), so timers run locally without a local.settings.json."""
    from shared.app.settings import SETTINGS

    defaults = {spec.name: spec.default for spec in SETTINGS}
    return _SETTING.sub(lambda m: os.environ.get(m.group(1)) or defaults.get(m.group(1), ""), value)


@dataclass(frozen=True)
class LocalFunction:
    name: str
    trigger: dict[str, Any]  # the trigger binding of function.json
    call: Callable[..., Any]

    @property
    def kind(self) -> str:
        return self.trigger["type"]

    @property
    def route(self) -> str:
        return self.trigger.get("route") or self.name

    @property
    def methods(self) -> list[str]:
        return [m.upper() for m in self.trigger.get("methods") or ["GET", "POST"]]

    @property
    def schedule(self) -> str:
        return resolve(self.trigger["schedule"])


@lru_cache(maxsize=1)
def load_functions() -> dict[str, LocalFunction]:
    """Index the app once per process, as the worker does (FunctionApp.get_functions() refuses a second go)."""
    import function_app  # imported late: local.settings.json must be in the environment first

    found = {}
    for function in function_app.app.get_functions():
        description = json.loads(function.get_function_json())
        trigger = next(b for b in description["bindings"] if b["type"].endswith("Trigger"))
        name = function.get_function_name()
        if name is None:  # the worker names every function it indexes; this would be an SDK change
            raise RuntimeError(f"function_app indexed a function without a name: {description}")
        found[name] = LocalFunction(name, trigger, function.get_user_function())
    return found


def load_local_settings(path: str = "local.settings.json") -> int:
    """Put local.settings.json Values into the environment as `func start` does; the environment wins."""
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle).get("Values", {})
    applied = 0
    for name, value in values.items():
        if name not in os.environ:
            os.environ[name] = str(value)
            applied += 1
    return applied
