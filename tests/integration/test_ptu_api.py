"""`LEDGER_PTU_FILE` end to end: a bad file stops the local host naming the file, the entry and the problem;
`GET /api/ptu` answers per the role matrix over the real local host; provisioned calls report `costUsd` 0 in
`/api/usage` (JSON and CSV) and their hours' price is split by tokens."""

from __future__ import annotations

import base64
import csv
import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.app.settings import SettingsError
from shared.ingest.calls import record_calls
from shared.reports.ptu import PtuFileError
from shared.store.records import CallRecord
from tests.conftest import make_context
from tests.local_host import devhost_env, local_host, run_devhost
from tests.usage_oracle import chat_call

START = datetime(2026, 11, 2, 9, tzinfo=UTC)
PLAN = {
    "deployments": [
        {
            "deployment": "chat-ptu",
            "backend": None,
            "ptu": 100,
            "hourlyUsd": 10.0,
            "from": "2026-11-01T00:00:00Z",
            "to": None,
        }
    ]
}


def _record(call_id: str, minutes: int, tokens: int, deployment: str, user: str, cost: float | None) -> CallRecord:
    return chat_call(call_id, START + timedelta(minutes=minutes), tokens, deployment, user, cost)


CALLS = [
    _record("a", 1, 300, "chat-ptu", "u1", 0.9),  # priced per token at ingest, before the file existed
    _record("b", 2, 200, "chat-ptu", "u1", 0.6),
    _record("c", 3, 500, "chat-ptu", "u2", None),
    _record("d", 3, 1000, "chat-ptu", "u2", None),  # the same minute: 1,500 tokens
    _record("e", 70, 100, "paygo", "u2", 0.25),
]


def _write_plan(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "ptu.json"
    path.write_text(json.dumps(plan))
    return path


def _ledger(context) -> None:
    with context.store.write() as conn:
        record_calls(context.store, conn, CALLS, now=START + timedelta(hours=3), reprice=lambda _record: None)


def _get(context, name: str, query: dict[str, str]):
    return handle(name, ApiRequest("GET", f"/api/{name}", {k: [v] for k, v in query.items()}), context)


RANGE = {"from": "2026-11-02T09:00:00Z", "to": "2026-11-02T12:00:00Z"}


def test_provisioned_calls_cost_nothing_per_token_and_share_their_hours(any_store, tmp_path):
    context = make_context(any_store, LEDGER_PTU_FILE=str(_write_plan(tmp_path, PLAN)))
    _ledger(context)
    report = json.loads(_get(context, "usage", {**RANGE, "groupBy": "user,deployment"}).body)
    rows = {(r["user"], r["deployment"]): r for r in report["rows"]}
    assert rows[("u1", "chat-ptu")]["costUsd"] == 0.0 and rows[("u2", "chat-ptu")]["costUsd"] == 0.0
    assert rows[("u2", "chat-ptu")]["unpricedRequests"] == 0  # provisioned: priced, at 0 per token
    assert rows[("u1", "chat-ptu")]["ptuCostUsd"] == 2.5  # 500 of the hour's 2,000 tokens of $10
    assert rows[("u2", "chat-ptu")]["ptuCostUsd"] == 7.5
    assert rows[("u2", "paygo")]["costUsd"] == 0.25
    assert rows[("u2", "paygo")]["chargebackUsd"] == 0.25 and rows[("u2", "paygo")]["ptuCostUsd"] == 0.0
    totals = report["totals"]
    assert (totals["costUsd"], totals["ptuCostUsd"], totals["ptuIdleCostUsd"]) == (0.25, 10.0, 20.0)
    assert totals["chargebackUsd"] == 10.25
    table = list(
        csv.DictReader(io.StringIO(_get(context, "usage", {**RANGE, "groupBy": "user", "format": "csv"}).body.decode()))
    )
    assert [row["ptuCostUsd"] for row in table] == ["7.5", "2.5"] and "chargebackUsd" in table[0]
    ptu = json.loads(_get(context, "ptu", RANGE).body)["items"]
    assert ptu == [
        {
            "deployment": "chat-ptu",
            "backend": None,
            "ptu": 100,
            "hours": 3,
            "costUsd": 30.0,
            "totalTokens": 2000,
            "allocatedUsd": 10.0,
            "idleUsd": 20.0,
            "peakTokensPerMinute": 1500,
        }
    ]


def test_without_the_file_reports_carry_no_ptu_figures(store):
    context = make_context(store)
    _ledger(context)
    report = json.loads(_get(context, "usage", {**RANGE, "groupBy": "user"}).body)
    assert "ptuCostUsd" not in report["rows"][0] and "ptuIdleCostUsd" not in report["totals"]
    assert report["totals"]["costUsd"] == 1.75  # per-token prices as ingest recorded them
    assert json.loads(_get(context, "ptu", RANGE).body)["items"] == []


BAD_FILES = [
    ({"deployments": [{**PLAN["deployments"][0], "hourlyUsd": -1}]}, "deployments[0] ('chat-ptu'): hourlyUsd"),
    ({"deployments": [{**PLAN["deployments"][0], "from": "2026-11-01T00:30:00Z"}]}, "must be a whole UTC hour"),
    ({"deployments": [{**PLAN["deployments"][0], "from": "2026-11-01T00:00:00"}]}, "must carry its zone"),
    ({"deployments": [{**PLAN["deployments"][0], "ptu": 0}]}, "ptu must be a whole number"),
    ({"deployments": [{**PLAN["deployments"][0], "region": "x"}]}, "unknown key 'region'"),
    ({"deployments": [{**PLAN["deployments"][0], "to": "2026-10-01T00:00:00Z"}]}, "to must be after from"),
    (
        {
            "deployments": [
                PLAN["deployments"][0],
                {**PLAN["deployments"][0], "backend": "east", "from": "2026-12-01T00:00:00Z"},
            ]
        },
        "deployments[1] ('chat-ptu') overlaps deployments[0]",
    ),
    ({"provisioned": []}, 'must be an object {"deployments": [...]}'),
]


@pytest.mark.parametrize("plan, problem", BAD_FILES)
def test_a_bad_file_is_refused_naming_the_file_the_entry_and_the_problem(store, tmp_path, plan, problem):
    path = _write_plan(tmp_path, plan)
    with pytest.raises(PtuFileError) as refused:
        make_context(store, LEDGER_PTU_FILE=str(path))
    assert str(path) in str(refused.value) and problem in str(refused.value)
    assert isinstance(refused.value, SettingsError)


def test_the_local_host_does_not_start_with_a_bad_file(tmp_path):
    path = _write_plan(tmp_path, {"deployments": [{**PLAN["deployments"][0], "hourlyUsd": "ten"}]})
    result = run_devhost(["serve", "--port", "0", "--no-timers"], devhost_env(tmp_path, LEDGER_PTU_FILE=str(path)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"LEDGER_PTU_FILE {path}: deployments[0] ('chat-ptu'): hourlyUsd must be a number" in result.stderr


def _principal(*roles: str) -> dict[str, str]:
    claims = [{"typ": "roles", "val": role} for role in roles]
    claims.append({"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "oid-1"})
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(doc).encode()).decode()}


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the test's own local host
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_ptu_route_answers_per_the_role_matrix_over_the_local_host(tmp_path):
    path = _write_plan(tmp_path, PLAN)
    env = {"LEDGER_AUTH": "easyauth", "LEDGER_EASYAUTH_TRUSTED": "true", "LEDGER_PTU_FILE": str(path)}
    with local_host(tmp_path, **env) as (base, _log):
        url = f"{base}/api/ptu?from=2026-11-02T09:00:00Z&to=2026-11-02T12:00:00Z"
        matrix = {
            "anonymous": ({}, 401),
            "Usage.Read": (_principal("Usage.Read"), 403),
            "Audit.Read": (_principal("Audit.Read"), 403),
            "Usage.ReadAll": (_principal("Usage.ReadAll"), 200),
            "Ledger.Admin": (_principal("Ledger.Admin"), 200),
        }
        assert {who: _status(url, headers) for who, (headers, _) in matrix.items()} == {
            who: status for who, (_, status) in matrix.items()
        }
