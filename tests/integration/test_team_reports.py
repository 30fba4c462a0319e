"""Reports by team and cost centre equal a brute-force grouping of the raw calls in Python: any calls, any team
file (ids and display names, overlapping lists: the first team in file order wins), any range, with other keys
beside, on the team cut, the wide rollup and the raw edges alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.ingest.calls import record_calls
from shared.reports.teams import MATCH_COLUMNS, Team, Teams
from shared.reports.usage import UsageQuery, query_timeseries, query_usage
from shared.store.schema import calls
from shared.store.sql import SqlStore
from shared.store.times import aware_utc
from tests.integration.test_usage_rollups import BASE, SPAN_MINUTES, _same, call_records

NAMES = {"u1": "ann@contoso.com", "u2": "ben@contoso.com", "s1": "Marketing"}  # display names the calls carry
ENTRIES = {
    "subscription": ["s1", "s2", "Marketing"],
    "product": ["gold"],
    "app": ["a1", "a2", "a9"],
    "user": ["u1", "u2", "u3", "ann@contoso.com", "ben@contoso.com"],
}


@st.composite
def team_files(draw) -> Teams:
    teams = []
    for i in range(draw(st.integers(1, 4))):
        kinds = draw(st.lists(st.sampled_from(sorted(ENTRIES)), min_size=1, max_size=3, unique=True))
        match = {
            k: tuple(draw(st.lists(st.sampled_from(ENTRIES[k]), min_size=1, max_size=2, unique=True))) for k in kinds
        }
        teams.append(Team(f"team-{i}", draw(st.sampled_from(["CC-1", "CC-2", None])), match))
    return Teams(Path("teams.json"), "0123456789ab", tuple(teams))


def _team_of(row: dict, teams: Teams) -> Team | None:
    """The first team any of whose lists holds one of the call's keys, as an id or as its display name."""
    for team in teams.teams:
        for kind, values in team.match.items():
            ident = row[MATCH_COLUMNS[kind]]
            if ident is not None and (ident in values or NAMES.get(ident) in values):
                return team
    return None


def _oracle(raw: list[dict], query: UsageQuery) -> dict[tuple, dict]:
    assert query.teams is not None
    groups: dict[tuple, list[dict]] = {}
    for row in raw:
        team = _team_of(row, query.teams)
        keys = {"team": team.name if team else None, "costCenter": team.cost_center if team else None}
        keys |= {"model": row["model"], "user": row["user_id"]}
        if not query.start <= aware_utc(row["time"]) < query.end:
            continue
        if any(keys[k] != v for k, v in query.filters.items()):
            continue
        groups.setdefault(tuple(keys[k] for k in query.group_by), []).append(row)
    return {
        key: {
            "requests": len(members),
            "totalTokens": sum(m["total_tokens"] for m in members),
            "promptTokens": sum(m["prompt_tokens"] for m in members),
        }
        for key, members in groups.items()
    }


@st.composite
def team_queries(draw, teams: Teams) -> UsageQuery:
    start = BASE + timedelta(minutes=draw(st.one_of(st.integers(-60, SPAN_MINUTES), st.sampled_from([0, 1440]))))
    length = draw(st.one_of(st.integers(1, SPAN_MINUTES + 120), st.sampled_from([1440, 2880])))
    keys = draw(st.lists(st.sampled_from(["team", "costCenter", "model", "user"]), min_size=1, max_size=3, unique=True))
    filters = {}
    if draw(st.booleans()):
        team = draw(st.sampled_from(teams.teams))
        filters = draw(st.sampled_from([{"team": team.name}, {"costCenter": team.cost_center or "CC-1"}]))
    return UsageQuery(start, start + timedelta(minutes=length), tuple(keys), filters, teams=teams)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records=call_records(), data=st.data())
def test_reports_by_team_equal_a_brute_force_grouping_of_the_raw_calls(records, data):
    teams = data.draw(team_files())
    named = [
        replace(r, user_name=NAMES.get(r.user_id or ""), subscription_name=NAMES.get(r.subscription_id))
        for r in records
    ]
    store = SqlStore.from_url("sqlite://")
    try:
        with store.write() as conn:
            record_calls(store, conn, named, now=datetime(2026, 12, 1), reprice=lambda _record: None)
        with store.read() as conn:
            raw = [dict(row) for row in conn.execute(select(calls)).mappings()]
            for query in data.draw(st.lists(team_queries(teams), min_size=1, max_size=4)):
                expected = _oracle(raw, query)
                _same(query_usage(conn, query).rows, expected, query.group_by)
                _same(query_usage(conn, replace(query, narrow_rollups=False)).rows, expected, query.group_by)
                series = query_timeseries(conn, query, "day")
                assert sum(row["requests"] for row in series.rows) == sum(f["requests"] for f in expected.values())
    finally:
        store.dispose()


def test_a_team_report_compiles_for_sql_server_with_its_mapping_written_inline():
    """SQL Server takes `CASE ... ?` in the select list and in GROUP BY for two expressions when each `?` is a
    parameter of its own (error 8120), and allows 2,100 parameters a statement: the mapping is written into the
    statement, escaped, the same in both places, and Unicode (N'...')."""
    from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

    from shared.reports.usage import _piece_query

    teams = Teams(Path("t.json"), "v", (Team("o'brien", "CC-1", {"user": ("ann's", "ünïcode")}),))
    query = UsageQuery(BASE, BASE + timedelta(hours=5), ("team", "user"), teams=teams)
    compiled = _piece_query("hourly", query.start, query.end, query).compile(
        dialect=mssql_pyodbc.dialect(), compile_kwargs={"render_postcompile": True}
    )
    tsql = str(compiled)
    mapping = "CASE WHEN (usage_hourly_cuts.user_id IN (N'ann''s', N'ünïcode')) THEN N'o''brien' ELSE N'' END"
    assert tsql.count(mapping) == 2 and f"GROUP BY {mapping}" in tsql
    assert not any(isinstance(value, (str, list)) and "ann's" in value for value in compiled.params.values())
