"""The function metadata the Python worker hands the Functions host, read through FunctionApp.get_functions().

Retry policies are read the way the worker turns them into the host's RpcRetryOptions
(azure_functions_worker/loader.py, build_retry_protos): the strategy names a value of the protocol's
RetryStrategy enum, the count is an int, each interval is `HH:MM:SS` read with time.strptime.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import function_app
from shared.app.settings import PLATFORM_SETTINGS, SETTINGS
from tests.function_index import bindings, indexed_functions

ROOT = Path(__file__).resolve().parents[2]
RETRY_STRATEGIES = {"exponential_backoff", "fixed_delay"}  # RpcRetryOptions.RetryStrategy in the worker protocol
APP_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")
SETTING_NAMES = {spec.name for spec in SETTINGS}
# An identity-based connection names a prefix; the host reads <prefix>__fullyQualifiedNamespace and friends.
CONNECTION_PREFIXES = {name.split("__", 1)[0] for name in SETTING_NAMES if "__" in name}


def _functions() -> dict:
    return indexed_functions(function_app.app)


def _seconds(interval: str) -> int:
    parsed = time.strptime(interval, "%H:%M:%S")  # the worker's convert_to_seconds
    return int(timedelta(hours=parsed.tm_hour, minutes=parsed.tm_min, seconds=parsed.tm_sec).total_seconds())


def _retry_as_the_worker_reads_it(function) -> dict | None:
    policy = function.get_settings_dict("retry_policy")
    if policy is None:
        return None
    strategy = policy["strategy"]
    assert strategy in RETRY_STRATEGIES, f"{function.get_function_name()}: unknown retry strategy {strategy!r}"
    read = {"strategy": strategy, "max_retry_count": int(policy["max_retry_count"])}
    intervals = ("delay_interval",) if strategy == "fixed_delay" else ("minimum_interval", "maximum_interval")
    read.update({name: _seconds(policy[name]) for name in intervals})
    return read


def _event_hub_functions() -> dict:
    return {name: f for name, f in _functions().items() if bindings(f)[0]["type"] == "eventHubTrigger"}


def test_both_event_hub_functions_retry_a_failed_batch_forever_with_exponential_backoff():
    functions = _event_hub_functions()
    assert set(functions) == {"ingest", "ingest_monitor"}
    for name, function in functions.items():
        retry = _retry_as_the_worker_reads_it(function)
        assert retry is not None, f"{name} has no retry policy: a failed batch would be checkpointed past"
        assert retry["strategy"] == "exponential_backoff", name
        assert retry["max_retry_count"] == -1, f"{name} gives up after {retry['max_retry_count']} retries"
        assert 0 < retry["minimum_interval"] <= retry["maximum_interval"], name


def test_host_json_defines_no_app_wide_retry_beside_the_function_policies():
    host = json.loads((ROOT / "host.json").read_text())
    assert "retry" not in host  # Event Hubs and timer retries are configured per function (see blueprints/ingest.py)


def test_every_retry_policy_reads_as_the_python_worker_reads_it():
    policies = {name: _retry_as_the_worker_reads_it(f) for name, f in _functions().items()}
    assert {name for name, retry in policies.items() if retry} >= {"ingest", "ingest_monitor", "quota_check"}


def test_every_app_setting_a_binding_names_is_a_known_setting():
    named: dict[str, str] = {}
    for name, function in _functions().items():
        for binding in bindings(function):
            for value in binding.values():
                for setting in APP_SETTING_EXPRESSION.findall(value if isinstance(value, str) else ""):
                    named[setting] = name
    unknown = {
        setting: name
        for setting, name in named.items()
        if setting not in SETTING_NAMES and setting not in PLATFORM_SETTINGS
    }
    assert not unknown, f"bindings name settings shared/app/settings.py does not define: {unknown}"
    assert {"EVENTHUB_NAME", "EVENTHUB_MONITOR_NAME", "EVENTHUB_CONSUMER_GROUP", "QUOTA_CHECK_SCHEDULE"} <= set(named)


def test_every_binding_connection_is_a_configured_setting_or_identity_prefix():
    connections = {
        binding["connection"]: name
        for name, function in _functions().items()
        for binding in bindings(function)
        if binding.get("connection")
    }
    assert connections, "no binding names a connection"
    unknown = {
        connection: name
        for connection, name in connections.items()
        if connection not in SETTING_NAMES | CONNECTION_PREFIXES | set(PLATFORM_SETTINGS)
    }
    assert not unknown, f"connections with no setting behind them: {unknown}"
