"""Teams and cost centres (LEDGER_TEAMS_FILE): a call belongs to the first team, in file order, whose lists hold
its subscription, product, app or user (as an id or a display name), mapped when a report is asked for, so an
edit of the file re-draws past reports. On SQLite and PostgreSQL (`any_store`)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import select

from shared.jobs.quota_check import run_quota_check
from shared.store.schema_alerts import alerts
from tests.builders import capture_event
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest

RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def _event(call_id: str, subscription: str, user: str, user_name: str | None = None, app: str = "app-portal"):
    event = capture_event(call_id=call_id, time="2026-11-10T09:00:00Z", subscription_id=subscription, user_id=user)
    event["caller"] |= {"userName": user_name, "appId": app}
    return event


CALLS = (
    _event("c1", "sub-ads", "oid-ana"),
    _event("c2", "sub-ads", "oid-ben"),
    _event("c3", "sub-shop", "oid-kofi", "kofi@contoso.com"),
    _event("c4", "sub-lab", "oid-zoe", app="app-lab"),  # no team's lists hold any of its keys
)


def _teams_file(tmp_path: Path, teams: list[dict], name: str = "teams.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"teams": teams}), encoding="utf-8")
    return str(path)


def _context(store, tmp_path: Path, teams: list[dict] | None, name: str = "teams.json", **settings: str):
    if teams is not None:
        settings["LEDGER_TEAMS_FILE"] = _teams_file(tmp_path, teams, name)
    return make_context(store, **settings)


def _json(context, name: str, query: dict[str, str], status: int = 200):
    response = call(context, name, query=RANGE | query)
    assert response.status == status, response.body
    return orjson.loads(response.body)


def _by(rows: list[dict], *keys: str) -> dict:
    return {tuple(row[k] for k in keys): row["requests"] for row in rows}


MARKETING = {"name": "marketing", "costCenter": "CC-1001", "match": {"subscription": ["sub-ads"]}}
SALES = {"name": "sales", "costCenter": "CC-2002", "match": {"subscription": ["sub-shop"]}}


def test_moving_a_subscription_to_another_team_changes_past_reports(any_store, tmp_path):
    ingest(make_context(any_store), *CALLS)
    before = _context(any_store, tmp_path, [MARKETING, SALES], "before.json")
    moved = {**SALES, "match": {"subscription": ["sub-shop", "sub-ads"]}}
    after = _context(any_store, tmp_path, [moved, {**MARKETING, "match": {"app": ["app-nothing"]}}], "after.json")

    first = _json(before, "usage", {"groupBy": "team,costCenter"})
    second = _json(after, "usage", {"groupBy": "team,costCenter"})
    assert _by(first["rows"], "team", "costCenter") == {
        ("marketing", "CC-1001"): 2,
        ("sales", "CC-2002"): 1,
        (None, None): 1,  # the unmatched call: no team, no cost centre
    }
    assert _by(second["rows"], "team", "costCenter") == {("sales", "CC-2002"): 3, (None, None): 1}
    assert first["teamsVersion"] != second["teamsVersion"] and len(first["teamsVersion"]) == 12
    assert first["totals"] == second["totals"]  # the same calls, drawn differently
    assert _json(after, "usage", {"team": "sales"})["totals"]["requests"] == 3
    assert _json(before, "usage", {"costCenter": "CC-1001", "groupBy": "user"})["rows"][0]["requests"] == 1


def test_lists_match_names_and_the_first_team_in_file_order_wins(any_store, tmp_path):
    ingest(make_context(any_store), *CALLS)
    teams = [
        {"name": "platform", "costCenter": "CC-9", "match": {"user": ["kofi@contoso.com"]}},  # Kofi's name
        {"name": "sales", "costCenter": "CC-9", "match": {"subscription": ["sub-shop", "sub-ads"]}},
        {"name": "ads", "costCenter": "CC-1", "match": {"user": ["oid-ana"]}},  # too late: sales holds sub-ads
    ]
    context = _context(any_store, tmp_path, teams)
    assert _by(_json(context, "usage", {"groupBy": "team,user"})["rows"], "team", "user") == {
        ("platform", "oid-kofi"): 1,
        ("sales", "oid-ana"): 1,
        ("sales", "oid-ben"): 1,
        (None, "oid-zoe"): 1,
    }
    assert _by(_json(context, "usage", {"groupBy": "costCenter"})["rows"], "costCenter") == {("CC-9",): 3, (None,): 1}
    assert _json(context, "usage", {"team": "ads"})["totals"]["requests"] == 0  # a team no call reaches


def test_team_keys_in_timeseries_csv_and_the_audit_list(any_store, tmp_path):
    ingest(make_context(any_store), *CALLS)
    context = _context(any_store, tmp_path, [MARKETING, SALES])
    version = _json(context, "usage", {})["teamsVersion"]

    series = _json(context, "usage_timeseries", {"groupBy": "team", "interval": "day"})
    assert series["teamsVersion"] == version and len(series["rows"]) == 3 * 30
    assert {row["team"] for row in series["rows"]} == {"marketing", "sales", None}
    response = call(context, "usage", query=RANGE | {"groupBy": "team,model", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert list(rows[0])[:2] == ["team", "model"] and list(rows[0])[-1] == "teamsVersion"
    assert {(row["team"], row["teamsVersion"]) for row in rows} == {
        ("marketing", version),
        ("sales", version),
        ("", version),
    }
    listed = _json(context, "requests", {"team": "marketing"})["items"]
    assert sorted(item["requestId"] for item in listed) == ["c1", "c2"]


def test_team_parameters_without_a_file_or_naming_an_unknown_team_are_400s(store, tmp_path):
    ingest(make_context(store), *CALLS)
    plain = make_context(store)
    assert _json(plain, "usage", {})["teamsVersion"] is None
    for name, query in (("usage", {"groupBy": "team"}), ("usage_timeseries", {"costCenter": "CC-1"})):
        problem = _json(plain, name, query, status=400)
        assert "LEDGER_TEAMS_FILE is not set" in problem["detail"]
    put = call(
        plain,
        "quota_put",
        route={"scopeType": "team", "scopeId": "marketing"},
        body=b'{"period": "day", "limitTokens": 9}',
    )
    assert put.status == 400 and "LEDGER_TEAMS_FILE is not set" in orjson.loads(put.body)["detail"]
    context = _context(store, tmp_path, [MARKETING, SALES])
    for name, query in (("usage", {"team": "marketng"}), ("requests", {"costCenter": "CC-404"})):
        problem = _json(context, name, query, status=400)
        assert ("has no" in problem["detail"] and "marketing, sales" in problem["detail"]) or "CC-1001" in problem[
            "detail"
        ]
    put = call(
        context,
        "quota_put",
        route={"scopeType": "team", "scopeId": "marketng"},
        body=orjson.dumps({"period": "month", "limitTokens": 1000}),
    )
    assert put.status == 400 and orjson.loads(put.body)["parameter"] == "scopeId"


def test_a_team_quota_crosses_its_threshold_and_alerts(any_store, tmp_path):
    ingest(make_context(any_store), *CALLS)  # in the past: this month's calls are below
    context = _context(
        any_store,
        tmp_path,
        [MARKETING, SALES],
        LEDGER_EMAIL_MODE="outbox",
        LEDGER_OUTBOX_DIR=str(tmp_path / "outbox"),
        LEDGER_PUBLIC_URL="https://ledger.contoso.com",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(
        context,
        *(
            capture_event(call_id=f"now-{i}", time=now.isoformat(), subscription_id=subscription)
            for i, subscription in enumerate(["sub-ads", "sub-ads", "sub-shop"])
        ),
    )
    month = {"from": now.replace(day=1, hour=0, minute=0, second=0).isoformat(), "to": "2200-01-01T00:00:00Z"}
    tokens = _json(context, "usage", month | {"team": "marketing"})["totals"]["totalTokens"]
    put = call(
        context,
        "quota_put",
        route={"scopeType": "team", "scopeId": "marketing"},
        body=orjson.dumps(
            {"period": "month", "limitTokens": tokens, "thresholds": [80, 100], "notify": ["cfo@contoso.com"]}
        ),
    )
    assert put.status == 201, put.body
    listed = orjson.loads(call(context, "quotas").body)
    assert listed["teamsVersion"] and listed["items"][0]["status"]["usedTokens"] == tokens
    assert listed["items"][0]["status"]["crossed"] == [80, 100]
    report = run_quota_check(context)
    assert len(report["raised"]) == 1 and len(report["sent"]) == 1
    with any_store.read() as conn:
        alert = conn.execute(select(alerts)).mappings().one()
    assert alert["scope_type"] == "team" and "team marketing" in alert["subject"] and "100%" in alert["subject"]
    mail = email.message_from_bytes(next((tmp_path / "outbox").glob("*.eml")).read_bytes(), policy=email.policy.default)
    assert mail["To"] == "cfo@contoso.com"
    assert "https://ledger.contoso.com/api/requests?from=" in mail.get_body(("plain",)).get_content()
    assert "team=marketing" in mail.get_body(("plain",)).get_content()
