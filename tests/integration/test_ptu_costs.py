"""Provisioned throughput in usage reports equals, to the cent, a brute-force computation over the raw calls.

Random calls (on provisioned and per-token deployments, several backends, tokens 0 or more, priced or not) go
through the real write path; random PTU plans, ranges (whole hours or cutting them), groupings, filters and
callers are then read through `query_usage` on SQLite and PostgreSQL, and each row's `costUsd`, `ptuCostUsd`,
`chargebackUsd` and the totals' `ptuIdleCostUsd` are held to a scan of the raw calls in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from shared.ingest.calls import record_calls
from shared.reports.ptu import Provisioned, PtuPlan
from shared.reports.teams import Team, Teams
from shared.reports.usage import UsageQuery, UsageResult, query_timeseries, query_usage
from shared.store.records import CallRecord
from shared.store.schema import calls, metadata
from shared.store.times import aware_utc, naive_utc
from tests.usage_oracle import chat_call, report_key

BASE = datetime(2026, 10, 31, 20, tzinfo=UTC)
SPAN_HOURS = 6
HOUR = timedelta(hours=1)
DEPLOYMENTS = ["chat-ptu", "chat-ptu", "mini-ptu", "paygo"]
BACKENDS = ["east", "west", None]
GROUP_KEYS = ("user", "deployment", "backend", "model", "day", "hour", "status")
CENT = 0.005


@st.composite
def call_records(draw, prefix: str = "c", first: datetime = BASE, span_hours: int = SPAN_HOURS) -> list[CallRecord]:
    """Calls in [first, first + span_hours), ids `prefix` and a number."""
    records = []
    for i in range(draw(st.integers(0, 60)) if draw(st.booleans()) else draw(st.integers(20, 60))):
        prompt, completion = draw(st.integers(0, 900)), draw(st.sampled_from([0, 0, 7, 300]))
        records.append(
            CallRecord(
                call_id=f"{prefix}{i}",
                time=first
                + timedelta(minutes=draw(st.integers(0, span_hours * 60 - 1)), seconds=draw(st.integers(0, 59))),
                source="capture/v1",
                operation="chat.completions",
                status=draw(st.sampled_from([200, 200, 429])),
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cost_usd=draw(st.one_of(st.none(), st.integers(0, 90_000).map(lambda c: c / 1e6))),
                deployment=draw(st.sampled_from(DEPLOYMENTS)),
                backend_id=draw(st.sampled_from(BACKENDS)),
                user_id=draw(st.sampled_from(["u1", "u2", "u3"])),
                model=draw(st.sampled_from(["gpt-4o", "gpt-4o-mini"])),
            )
        )
    return records


@st.composite
def plans(draw) -> PtuPlan:
    """chat-ptu on any backend; mini-ptu on east and on west, in windows of whole hours (some still open)."""
    entries = []
    for deployment, backend in (("chat-ptu", None), ("mini-ptu", "east"), ("mini-ptu", "west")):
        if deployment == "chat-ptu" or draw(st.booleans()):
            start = BASE + draw(st.integers(-2, SPAN_HOURS // 2)) * HOUR
            end = draw(st.one_of(st.none(), st.integers(1, SPAN_HOURS + 2).map(lambda h, s=start: s + h * HOUR)))
            hourly = draw(st.sampled_from([0.0, 1.0, 37.5, 100.0, 12.34, 12.34]))
            entries.append(
                Provisioned(deployment, backend, 100, hourly, naive_utc(start), None if end is None else naive_utc(end))
            )
    return PtuPlan("test", tuple(entries))


@st.composite
def queries(draw) -> UsageQuery:
    if draw(st.booleans()):  # whole hours
        start = BASE + draw(st.integers(-1, SPAN_HOURS)) * HOUR
        end = start + draw(st.integers(1, SPAN_HOURS + 1)) * HOUR
    else:  # cutting hours
        start = BASE + timedelta(minutes=draw(st.integers(-60, SPAN_HOURS * 60)))
        end = start + timedelta(minutes=draw(st.integers(1, SPAN_HOURS * 60)))
    group_by = tuple(draw(st.lists(st.sampled_from(GROUP_KEYS), max_size=3, unique=True)))
    filters = {}
    if draw(st.booleans()):
        key, value = draw(
            st.sampled_from([("deployment", "mini-ptu"), ("deployment", "paygo"), ("backend", "east"), ("user", "u2")])
        )
        filters[key] = value
    return UsageQuery(start, end, group_by, filters, draw(st.sampled_from([None, None, "u1"])))


def _entry_of(call: dict, plan: PtuPlan) -> Provisioned | None:
    moment = naive_utc(aware_utc(call["time"]))
    for entry in plan.entries:
        if (
            call["deployment"] == entry.deployment
            and (entry.backend is None or call["backend_id"] == entry.backend)
            and entry.start <= moment
            and (entry.end is None or moment < entry.end)
        ):
            return entry
    return None


def _brute_force(raw: list[dict], plan: PtuPlan, query: UsageQuery) -> tuple[dict[tuple, dict], dict]:
    """Per key: costUsd, ptuCostUsd, chargebackUsd from the raw calls; and the totals with ptuIdleCostUsd."""
    hour_tokens: dict[tuple, int] = defaultdict(int)  # (entry, hour): every call's tokens, whatever the query
    for call in raw:
        entry = _entry_of(call, plan)
        if entry is not None:
            hour_tokens[(entry, call["hour"])] += call["total_tokens"]
    groups: dict[tuple, dict] = {}
    for call in raw:
        key = report_key(call, query)
        if key is None:
            continue
        group = groups.setdefault(key, {"cost": 0.0, "priced": 0, "ptu": 0.0})
        entry = _entry_of(call, plan)
        if entry is not None:  # paid by the hour: no per-token cost, a share of the hour
            group["priced"] += 1
            denominator = hour_tokens[(entry, call["hour"])]
            group["ptu"] += entry.hourly_usd * call["total_tokens"] / denominator if denominator else 0.0
        elif call["cost_usd"] is not None:
            group["priced"] += 1
            group["cost"] += call["cost_usd"]
    expected = {
        key: {
            "costUsd": g["cost"] if g["priced"] else None,
            "ptuCostUsd": g["ptu"],
            "chargebackUsd": g["cost"] + g["ptu"] if g["priced"] else None,
        }
        for key, g in groups.items()
    }
    idle = 0.0
    for entry in plan.entries:
        if query.filters.get("deployment", entry.deployment) != entry.deployment:
            continue
        if entry.backend is not None and query.filters.get("backend", entry.backend) != entry.backend:
            continue
        hour = naive_utc(query.start).replace(minute=0, second=0, microsecond=0)
        hour = hour if hour == naive_utc(query.start) else hour + HOUR
        while hour < naive_utc(query.end):
            provisioned = entry.start <= hour and (entry.end is None or hour < entry.end)
            if provisioned and not hour_tokens[(entry, hour)]:
                idle += entry.hourly_usd
            hour += HOUR
    totals = {
        "ptuCostUsd": sum(g["ptuCostUsd"] for g in expected.values()),
        "ptuIdleCostUsd": None if query.only_user is not None else idle,
    }
    return expected, totals


def assert_brute_force(conn, raw: list[dict], query: UsageQuery, plan: PtuPlan) -> UsageResult:
    """`query_usage` with the plan gives the brute force's rows and totals (to the cent); the result."""
    expected, totals = _brute_force(raw, plan, query)
    result = query_usage(conn, replace(query, ptu=plan))
    got = {tuple(row[k] for k in query.group_by): row for row in result.rows}
    assert set(got) == set(expected)
    for key, figures in expected.items():
        for name, value in figures.items():
            _near(got[key][name], value, (key, name))
    _near(result.totals["ptuCostUsd"], totals["ptuCostUsd"], "totals")
    _near(result.totals["ptuIdleCostUsd"], totals["ptuIdleCostUsd"], "idle")
    return result


def _near(got: float | None, want: float | None, what: object) -> None:
    assert (got is None) == (want is None), what
    if want is not None:
        assert abs(got - want) < CENT, (what, got, want)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_ptu_shares_equal_a_brute_force_over_the_raw_calls(engine, request, tmp_path):
    from shared.store.sql import SqlStore

    url = f"sqlite:///{tmp_path / 'ledger.db'}" if engine == "sqlite" else request.getfixturevalue("postgres_url")
    store = SqlStore.from_url(url)
    if engine == "postgresql":
        metadata.drop_all(store.engine)
        metadata.create_all(store.engine)

    @settings(
        max_examples=40 if engine == "sqlite" else 20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(records=call_records(), plan=plans(), cases=st.lists(queries(), min_size=1, max_size=5))
    def check(records, plan, cases):
        with store.write() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
        half = len(records) // 2
        for batch in (records[:half], records[half:]):
            with store.write() as conn:
                record_calls(store, conn, batch, now=datetime(2026, 12, 1), reprice=lambda _record: None)
        with store.read() as conn:
            raw = [dict(row) for row in conn.execute(select(calls)).mappings()]
            for call in raw:
                call["hour"] = naive_utc(aware_utc(call["hour"]))
            for query in cases:
                _, totals = _brute_force(raw, plan, query)
                for narrow in (True, False):
                    result = assert_brute_force(conn, raw, replace(query, narrow_rollups=narrow), plan)
                    assert sum(r["ptuCostUsd"] for r in result.rows) == pytest.approx(
                        result.totals["ptuCostUsd"], abs=CENT
                    )
                keys = tuple(k for k in query.group_by if k not in ("day", "hour"))
                series = query_timeseries(conn, replace(query, group_by=keys, ptu=plan), "hour")
                assert sum(r["ptuCostUsd"] for r in series.rows) == pytest.approx(totals["ptuCostUsd"], abs=CENT)

    try:
        check()
    finally:
        store.dispose()


def test_whole_hours_split_every_provisioned_hour_between_the_calls_and_idle(store):
    """Over whole hours, what rows are charged plus the idle cost is every provisioned hour's price."""
    entry = Provisioned("chat-ptu", None, 100, 10.0, naive_utc(BASE), naive_utc(BASE + 4 * HOUR))
    records = [
        chat_call(f"c{i}", BASE + timedelta(minutes=m), tokens, "chat-ptu", user, 0.5)
        for i, (m, tokens, user) in enumerate([(5, 300, "u1"), (50, 100, "u2"), (130, 0, "u1")])
    ]
    with store.write() as conn:
        record_calls(store, conn, records, now=datetime(2026, 12, 1), reprice=lambda _record: None)
    with store.read() as conn:
        result = query_usage(conn, UsageQuery(BASE - HOUR, BASE + 5 * HOUR, ("user",), ptu=PtuPlan("t", (entry,))))
    rows = {row["user"]: row for row in result.rows}
    assert rows["u1"]["costUsd"] == 0.0 and rows["u2"]["costUsd"] == 0.0  # paid by the hour, not per token
    assert rows["u1"]["ptuCostUsd"] == 7.5 and rows["u2"]["ptuCostUsd"] == 2.5  # 300 and 100 of the first hour's 400
    assert result.totals["ptuIdleCostUsd"] == 30.0  # hours 2 (no calls), 3 (no tokens) and 4
    assert rows["u1"]["chargebackUsd"] == 7.5
    assert result.totals["ptuCostUsd"] + result.totals["ptuIdleCostUsd"] == 4 * 10.0


def test_a_team_is_charged_the_provisioned_hours_its_members_used(store):
    """groupBy=team with PTU: each team carries the shares of its members' calls, and nobody's share is lost."""
    entry = Provisioned("chat-ptu", None, 100, 10.0, naive_utc(BASE), naive_utc(BASE + 2 * HOUR))
    records = [
        chat_call(f"c{i}", BASE + timedelta(minutes=m), tokens, "chat-ptu", user, 0.5)
        for i, (m, tokens, user) in enumerate([(5, 300, "u1"), (20, 100, "u2"), (50, 600, "u3"), (70, 50, "u2")])
    ]
    teams = Teams(
        Path("teams.json"),
        "v1",
        (Team("red", "CC-1", {"user": ("u1", "u2")}), Team("blue", "CC-2", {"user": ("u2",)})),  # first team wins
    )
    with store.write() as conn:
        record_calls(store, conn, records, now=datetime(2026, 12, 1), reprice=lambda _record: None)
    plan = PtuPlan("t", (entry,))
    with store.read() as conn:
        by_team = query_usage(conn, UsageQuery(BASE, BASE + 2 * HOUR, ("team",), teams=teams, ptu=plan))
    rows = {row["team"]: row for row in by_team.rows}
    assert set(rows) == {"red", None}  # u3 is in no team; blue never wins over red for u2
    # Hour 1: red 400 and no team 600 of 1,000 tokens; hour 2: u2 (red) alone.
    assert rows["red"]["ptuCostUsd"] == 4.0 + 10.0 and rows[None]["ptuCostUsd"] == 6.0
    assert by_team.totals["ptuIdleCostUsd"] == 0.0 and by_team.totals["ptuCostUsd"] == 20.0
    assert rows["red"]["chargebackUsd"] == 14.0 and rows["red"]["costUsd"] == 0.0
