"""The PTU read model (closed days summed once, `reports.ptu_days`) gives the same answers as a brute force over
the raw calls, on SQLite and PostgreSQL: after a refresh, after late calls into days it already built (stale
days are computed live until the next refresh), and after that refresh; whole days, whole hours or cut hours.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from shared.ingest.calls import record_calls
from shared.jobs.ptu_refresh import refresh_ptu_days
from shared.reports.ptu import Provisioned, PtuPlan
from shared.reports.ptu_days import fresh_cover
from shared.reports.ptu_days_build import stale_days
from shared.reports.ptu_report import ptu_items
from shared.reports.usage import UsageQuery, query_usage
from shared.store.schema import calls, metadata
from shared.store.times import aware_utc, naive_utc
from tests.integration.test_ptu_costs import _brute_force, _entry_of, _near, assert_brute_force, call_records

DAY0 = datetime(2026, 10, 26, tzinfo=UTC)  # a Monday
SPAN_HOURS = 9 * 24 + 6  # nine whole days (a week and two), and three hours either side
FIRST = DAY0 - timedelta(hours=3)
HOUR = timedelta(hours=1)
NOW = DAY0 + timedelta(days=10)  # every day of the span is closed
WEEK = timedelta(days=7)
WHOLE_WEEK = UsageQuery(DAY0, DAY0 + WEEK + timedelta(days=1), ("user",))  # always: the week, when built, and a day
GROUP_KEYS = ("user", "deployment", "backend", "model", "day", "status")


@st.composite
def plans(draw) -> PtuPlan:
    """chat-ptu on any backend from an hour around the first day; mini-ptu on east for a window of whole hours."""
    start = DAY0 + draw(st.one_of(st.integers(-4, 0), st.integers(-4, 0), st.integers(1, 30))) * HOUR
    end = draw(st.one_of(st.none(), st.integers(20, SPAN_HOURS).map(lambda h: start + h * HOUR)))
    entries = [
        Provisioned(
            "chat-ptu", None, 100, draw(st.sampled_from([1.0, 37.5, 12.34])), naive_utc(start), end and naive_utc(end)
        )
    ]
    if draw(st.booleans()):
        entries.append(
            Provisioned("mini-ptu", "east", 50, 10.0, naive_utc(DAY0 + 24 * HOUR), naive_utc(DAY0 + 48 * HOUR))
        )
    return PtuPlan("test", tuple(entries))


@st.composite
def queries(draw) -> UsageQuery:
    kind = draw(st.sampled_from(["days", "hours", "cut"]))
    if kind == "days":
        start = DAY0 + draw(st.integers(-1, 3)) * timedelta(days=1)
        end = start + draw(st.integers(1, 10)) * timedelta(days=1)
    elif kind == "hours":
        start = FIRST + draw(st.integers(0, SPAN_HOURS)) * HOUR
        end = start + draw(st.integers(1, SPAN_HOURS)) * HOUR
    else:
        start = FIRST + timedelta(minutes=draw(st.integers(0, SPAN_HOURS * 60)))
        end = start + timedelta(minutes=draw(st.integers(1, SPAN_HOURS * 60)))
    group_by = tuple(draw(st.lists(st.sampled_from(GROUP_KEYS), max_size=2, unique=True)))
    filters = {}
    if draw(st.booleans()):
        key, value = draw(
            st.sampled_from([("deployment", "chat-ptu"), ("backend", "east"), ("user", "u2"), ("model", "gpt-4o")])
        )
        filters[key] = value
    return UsageQuery(start, end, group_by, filters, draw(st.sampled_from([None, None, "u1"])))


def _check(conn, raw: list[dict], plan: PtuPlan, query: UsageQuery) -> None:
    assert_brute_force(conn, raw, query, plan)
    if query.filters or query.only_user:
        return
    for item in ptu_items(conn, plan, query.start, query.end):  # /api/ptu: the same shares, tokens, peak minute
        entry = next(e for e in plan.entries if (e.deployment, e.backend) == (item["deployment"], item["backend"]))
        mine = [c for c in raw if _entry_of(c, plan) == entry and query.start <= aware_utc(c["time"]) < query.end]
        minutes: dict = {}
        for call in mine:
            minute = naive_utc(aware_utc(call["time"])).replace(second=0, microsecond=0)
            minutes[minute] = minutes.get(minute, 0) + call["total_tokens"]
        assert item["totalTokens"] == sum(c["total_tokens"] for c in mine)
        assert item["peakTokensPerMinute"] == max(minutes.values(), default=0)
        one = replace(
            query, filters={"deployment": entry.deployment} | ({"backend": entry.backend} if entry.backend else {})
        )
        _, its_totals = _brute_force(raw, PtuPlan("one", (entry,)), one)
        _near(item["allocatedUsd"], its_totals["ptuCostUsd"], ("allocated", item))
        _near(item["idleUsd"], its_totals["ptuIdleCostUsd"], ("idle", item))


def test_the_read_model_answers_as_a_brute_force_over_the_raw_calls(any_store):
    store = any_store  # a SQLite file, then a real PostgreSQL server

    @settings(
        max_examples=30 if store.dialect == "sqlite" else 15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        first=call_records("a", FIRST, SPAN_HOURS),
        late=call_records("b", FIRST, SPAN_HOURS),
        plan=plans(),
        cases=st.lists(queries(), min_size=1, max_size=4),
    )
    def check(first, late, plan, cases):
        with store.write() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))

        def write(records):
            with store.write() as conn:
                record_calls(store, conn, records, now=NOW, reprice=lambda _record: None)

        def verify():
            with store.read() as conn:
                raw = [dict(row) for row in conn.execute(select(calls)).mappings()]
                for call in raw:
                    call["hour"] = naive_utc(aware_utc(call["hour"]))
                for query in [*cases, WHOLE_WEEK]:
                    _check(conn, raw, plan, query)

        write(first)
        refresh_ptu_days(store, plan, NOW)
        with store.read() as conn:  # every closed whole day and week of every entry is built, and used
            for entry in plan.entries:
                assert stale_days(conn, entry, NOW)[:2] == ([], [])
                cover = fresh_cover(conn, entry, naive_utc(FIRST), naive_utc(NOW))
                if entry.start <= naive_utc(DAY0) and (entry.end is None or entry.end >= naive_utc(DAY0 + WEEK)):
                    assert cover.weeks == (naive_utc(DAY0),)
                assert cover or (entry.end is not None and entry.end - entry.start < timedelta(days=2))
        verify()
        write(late)  # late calls into days (and weeks) already built: those are stale, computed live
        verify()
        refresh_ptu_days(store, plan, NOW)  # rebuilt
        verify()

    check()


def test_the_read_model_statements_compile_to_tsql_with_bound_values():
    """Azure SQL runs the same statements (the tests above run SQLite and PostgreSQL): held to T-SQL here."""
    from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc  # the dialect only; the driver is not loaded

    from shared.reports.ptu_days import Cover, entry_key, shares_statement
    from shared.reports.ptu_days_build import cut_statement, week_shares

    dialect = mssql_pyodbc.dialect()
    entry = Provisioned("chat-ptu", "east", 100, 12.5, naive_utc(DAY0), None)
    monday = naive_utc(DAY0)
    cover = Cover([(monday + WEEK, monday + WEEK + timedelta(days=2))], (monday,))
    query = UsageQuery(DAY0, DAY0 + 9 * 24 * HOUR, ("user", "model"), {"model": "gpt-4o"}, only_user="u1")
    tsql = str(shares_statement(entry, query, ["user", "model"], "user,model", cover, False).compile(dialect=dialect))
    assert "FROM ptu_day_shares" in tsql and "GROUP BY" in tsql
    assert "gpt-4o" not in tsql and "u1" not in tsql and entry_key(entry) not in tsql  # bound, never inlined
    insert = str(week_shares(entry_key(entry), monday).compile(dialect=dialect))
    assert insert.startswith("INSERT INTO ptu_day_shares (entry_key, cut, dims_key,") and "GROUP BY" in insert
    day = str(cut_statement(entry, "team", monday).compile(dialect=dialect))
    assert "LEFT OUTER JOIN (SELECT usage_hourly_cuts.hour" in day and "chat-ptu" not in day and "east" not in day


def test_a_price_change_in_the_file_is_never_answered_from_days_built_at_the_old_price(store):
    """The read model is keyed by each entry's deployment, backend and price: an edited file is answered live until
    the refresh builds its days, and the refresh forgets the old entry's days."""
    from sqlalchemy import func

    from shared.jobs.ptu_refresh import run_ptu_refresh
    from shared.store.schema_ptu import ptu_days
    from tests.usage_oracle import chat_call

    records = [
        chat_call(f"c{i}", DAY0 + timedelta(hours=5 + 24 * i), 100 * (i + 1), "chat-ptu", "u1", 0.5) for i in range(3)
    ]
    with store.write() as conn:
        record_calls(store, conn, records, now=NOW, reprice=lambda _record: None)
    old = Provisioned("chat-ptu", None, 100, 10.0, naive_utc(DAY0), None)
    new = replace(old, hourly_usd=20.0)
    assert refresh_ptu_days(store, PtuPlan("old", (old,)), NOW).built == 10  # every closed day of the entry
    week = UsageQuery(DAY0, DAY0 + WEEK, ("user",))
    with store.read() as conn:
        assert query_usage(conn, replace(week, ptu=PtuPlan("old", (old,)))).rows[0]["ptuCostUsd"] == 30.0
        assert query_usage(conn, replace(week, ptu=PtuPlan("new", (new,)))).rows[0]["ptuCostUsd"] == 60.0

    class Context:  # what the timer is given (JobContext): the store and the file read at start
        def __init__(self, plan):
            self.store, self.ptu_plan = store, plan

    assert run_ptu_refresh(Context(PtuPlan("new", (new,))), NOW).built == 10
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(ptu_days)).scalar_one() == 10 + 1  # days and one week
        assert query_usage(conn, replace(week, ptu=PtuPlan("new", (new,)))).rows[0]["ptuCostUsd"] == 60.0
    assert run_ptu_refresh(Context(None), NOW).built == 0  # no LEDGER_PTU_FILE: nothing to do
