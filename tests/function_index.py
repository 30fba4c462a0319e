"""The Functions app's functions as the Python worker indexes them, once per process.

FunctionApp.get_functions() refuses to run twice (every function name would be a duplicate), so every test
module that inspects or calls the registered functions shares this one index.
"""

from __future__ import annotations

import json

_INDEXED: dict[int, dict] = {}


def indexed_functions(app) -> dict:
    """{function name: azure.functions Function} for `app`, indexed on first use."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = {f.get_function_name(): f for f in app.get_functions()}
    return _INDEXED[id(app)]


def bindings(function) -> list[dict]:
    """The function's bindings as the host reads them (function.json's `bindings`)."""
    return json.loads(function.get_function_json())["bindings"]
