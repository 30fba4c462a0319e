"""The sample month: deterministic, contract-shaped, and containing every kind of call the demo relies on."""

from __future__ import annotations

import ipaddress
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devhost.sample import generate_sample_events, main

START = datetime(2026, 10, 1)
TOP_KEYS = {
    "schema",
    "id",
    "time",
    "gateway",
    "api",
    "deployment",
    "caller",
    "backend",
    "request",
    "response",
    "timing",
    "error",
}
CALLER_KEYS = {"ip", "subscriptionId", "subscriptionName", "productId", "userId", "userName", "appId", "tenantId"}
DOC_NETS = [ipaddress.ip_network(n) for n in ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")]


@pytest.fixture(scope="module")
def month() -> list[dict[str, Any]]:
    return [json.loads(body) for body in generate_sample_events(START)]


def test_same_seed_gives_the_same_bytes() -> None:
    first = list(generate_sample_events(START, days=3, calls_per_day=150, seed=11))
    again = list(generate_sample_events(START, days=3, calls_per_day=150, seed=11))
    other = list(generate_sample_events(START, days=3, calls_per_day=150, seed=12))
    assert first == again
    assert first != other


def test_every_event_has_the_contract_fields(month: list[dict[str, Any]]) -> None:
    for event in month:
        assert set(event) == TOP_KEYS
        assert event["schema"] == "aoai-ledger/capture/v1"
        assert set(event["caller"]) == CALLER_KEYS
        assert set(event["request"]) == {"method", "path", "contentType", "size", "body", "bodyRef"}
        assert event["gateway"] == {"service": "apim-contoso", "region": "East US 2"}
        assert event["timing"]["totalMs"] >= event["timing"]["backendMs"] >= 0
        if event["response"] is None:
            assert event["error"]["reason"] == "Timeout"
        else:
            assert set(event["response"]) == {"status", "contentType", "size", "headers", "body", "bodyRef"}
            assert isinstance(event["response"]["status"], int)
            assert event["response"]["size"] == len(event["response"]["body"].encode())
        assert event["request"]["size"] == len(event["request"]["body"].encode())


def test_ids_are_unique_and_times_in_order(month: list[dict[str, Any]]) -> None:
    assert len({e["id"] for e in month}) == len(month)
    times = [e["time"] for e in month]
    assert times == sorted(times) and times[0].startswith("2026-10-01T") and times[-1].startswith("2026-10-30T")


def test_month_has_about_calls_per_day_times_days_events(month: list[dict[str, Any]]) -> None:
    assert 11_000 < len(month) < 14_000


def test_callers_span_subscriptions_users_apps_and_documentation_ips(month: list[dict[str, Any]]) -> None:
    callers = [e["caller"] for e in month]
    assert {c["subscriptionName"] for c in callers} == {
        "marketing-assistant",
        "support-bot",
        "data-science",
        "hr-copilot",
    }
    assert {c["productId"] for c in callers} == {"gold", "silver"}
    assert 10 <= len({c["userId"] for c in callers}) <= 20
    assert all(c["userName"].endswith("@contoso.com") for c in callers)
    assert 3 <= len({c["appId"] for c in callers}) <= 4
    assert all(any(ipaddress.ip_address(c["ip"]) in net for net in DOC_NETS) for c in callers)
    assert {e["backend"]["id"] for e in month} == {"aoai-eastus2", "aoai-swedencentral"}


def _kind(event: dict[str, Any]) -> set[str]:
    kinds: set[str] = {event["deployment"]}
    response = event["response"]
    if response is None:
        return kinds | {"timeout"}
    kinds.add(str(response["status"]))
    body = response["body"]
    if response["contentType"] == "text/event-stream":
        kinds.add("stream")
        chunks = [line[6:] for line in body.split("\n") if line.startswith("data: ")]
        first = json.loads(chunks[0])
        if first["choices"] == [] and "prompt_filter_results" in first:
            kinds.add("stream-azure-first-chunk")
        if chunks[-1] == "[DONE]" and json.loads(chunks[-2])["usage"]["total_tokens"] > 0:
            kinds.add("stream-usage-and-done")
        return kinds
    parsed = json.loads(body)
    if response["status"] == 429 and "retry-after" in response["headers"]:
        kinds.add("429-retry-after")
    if parsed.get("error", {}).get("innererror", {}).get("code") == "ResponsibleAIPolicyViolation":
        kinds.add("prompt-blocked")
    for choice in parsed.get("choices", []):
        if choice["finish_reason"] == "content_filter":
            kinds.add("completion-filtered")
    usage = parsed.get("usage") or {}
    if (usage.get("prompt_tokens_details") or {}).get("cached_tokens"):
        kinds.add("cached")
    if (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"):
        kinds.add("reasoning-tokens")
    if len(event["request"]["body"]) >= 60_000:
        kinds.add("large-prompt")
    return kinds


def test_mix_contains_every_kind_of_call(month: list[dict[str, Any]]) -> None:
    seen = Counter(kind for event in month for kind in _kind(event))
    for kind in (
        "chat-prod",
        "chat-mini",
        "reasoning",
        "embed",
        "200",
        "429-retry-after",
        "500",
        "prompt-blocked",
        "completion-filtered",
        "stream",
        "stream-azure-first-chunk",
        "stream-usage-and-done",
        "cached",
        "reasoning-tokens",
        "large-prompt",
        "timeout",
    ):
        assert seen[kind] > 0, kind
    assert seen["stream"] < 0.1 * len(month) and seen["large-prompt"] < 0.01 * len(month)


def test_models_match_their_deployments(month: list[dict[str, Any]]) -> None:
    expected = {
        "chat-prod": "gpt-4o-2024-08-06",
        "chat-mini": "gpt-4o-mini-2024-07-18",
        "reasoning": "o3-mini-2025-01-31",
        "embed": "text-embedding-3-small",
    }
    for event in month:
        response = event["response"]
        if response and response["status"] == 200 and response["contentType"] == "application/json":
            assert json.loads(response["body"])["model"] == expected[event["deployment"]]


def test_large_prompts_stay_under_the_event_hub_limit(month: list[dict[str, Any]]) -> None:
    large = [e for e in month if len(e["request"]["body"]) >= 60_000]
    assert large and all(len(e["request"]["body"].encode()) <= 150_000 + 1_000 for e in large)
    assert all(len(json.dumps(e, ensure_ascii=False).encode()) < 190_000 for e in large)


def test_weekdays_are_busier_and_one_user_spikes(month: list[dict[str, Any]]) -> None:
    per_day = Counter(e["time"][:10] for e in month)
    assert per_day["2026-10-06"] > 2 * per_day["2026-10-04"]  # a Tuesday against a Sunday
    kofi = Counter(e["time"][:10] for e in month if e["caller"]["userName"] == "kofi@contoso.com")
    spike_day, spike_calls = kofi.most_common(1)[0]
    assert spike_day == "2026-10-20" and spike_calls > 5 * sorted(kofi.values())[len(kofi) // 2]


def test_a_month_is_generated_in_well_under_two_seconds() -> None:
    start = time.perf_counter()
    count = sum(1 for _ in generate_sample_events(START, days=30, calls_per_day=400))
    elapsed = time.perf_counter() - start
    assert count > 11_000
    assert elapsed < 3.0  # ~0.9 s measured; slack for loaded CI machines


def test_cli_writes_one_event_per_line(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl"
    assert (
        main(["--out", str(out), "--start", "2026-10-01", "--days", "2", "--calls-per-day", "50", "--seed", "3"]) == 0
    )
    lines = out.read_bytes().splitlines()
    assert lines == list(generate_sample_events(START, days=2, calls_per_day=50, seed=3))
