"""No parameter value gives a 500: every route's parameters and body, hostile values drawn by hypothesis, through
`shared.api.handle` on SQLite and PostgreSQL; the named hard cases as examples; huge ranges answer quickly."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.api.handler import ROUTES, handle
from shared.api.http import ApiRequest
from shared.ingest.types import IncomingEvent
from shared.reports.audit import AuditQuery, list_calls
from tests.builders import capture_event, encode
from tests.conftest import make_context

NOW = datetime.now(UTC).replace(microsecond=0)
HUGE = st.integers(-(2**80), 2**80)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _time_text(moment: datetime, minutes: int) -> str:
    return moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()


TIMES = st.builds(
    _time_text, st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)), st.integers(-1439, 1439)
)
JSON = st.recursive(
    st.none() | st.booleans() | HUGE | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | TIMES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["t", "id", "s", "before"]) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=8,
)
CURSOR_SHAPED = st.fixed_dictionaries({"t": TIMES | JSON, "id": st.text(max_size=300) | JSON, "s": TIMES | JSON})
VALUES = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=10),  # NUL, controls, lone surrogates
    TIMES,
    HUGE.map(str),
    st.sampled_from(
        [
            "\u0663",
            "\u0661\u0660",
            "\u00b2",
            "1e3",
            " 5 ",
            "0x10",
            "1_000",
            "-0",
            "9" * 5000,
            "",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01",
            "9999-12-31T23:59:59Z",
        ]
    ),
    st.binary(max_size=40).map(_b64),
    JSON.map(lambda value: _b64(json.dumps(value).encode())),
    CURSOR_SHAPED.map(lambda value: _b64(json.dumps(value).encode())),
    HUGE.map(lambda n: _b64(json.dumps({"before": n}).encode())),
)
QUOTA_BODIES = st.one_of(
    st.binary(max_size=30),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"period": st.sampled_from(["day", "week", "month"])},
        optional={
            "limitTokens": HUGE | st.floats(),
            "limitCostUsd": HUGE | st.floats(allow_nan=False),
            "thresholds": st.lists(HUGE, max_size=3),
            "notify": st.lists(st.text(max_size=30) | st.emails(), max_size=3),
        },
    ).map(lambda value: json.dumps(value).encode()),
)


@pytest.fixture
def seeded(any_store):
    context = make_context(any_store)
    events = [
        encode(capture_event(call_id=f"p-{i}", time=(NOW - timedelta(hours=7 * i)).isoformat())) for i in range(20)
    ]
    context.ingestor.ingest_batch([IncomingEvent(body=body) for body in [*events, b"junk", b"[1]"]])
    return context


def _call(
    context, name: str, query: dict[str, str] | None = None, route: dict[str, str] | None = None, body: bytes = b""
):
    request = ApiRequest(
        ROUTES[name].method,
        f"/api/{ROUTES[name].path}",
        {k: [v] for k, v in (query or {}).items()},
        route or {},
        {},
        body,
    )
    return handle(name, request, context)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def _any_values_any_route(context, data) -> None:
    name = data.draw(st.sampled_from(sorted(ROUTES)), label="route")
    route = ROUTES[name]
    query, path = {}, {}
    for param in route.params:
        if param.location == "path":
            path[param.name] = data.draw(VALUES | st.just(param.enum[0] if param.enum else "1"), label=param.name)
        elif data.draw(st.booleans()):
            query[param.name] = data.draw(VALUES, label=param.name)
    body = data.draw(QUOTA_BODIES, label="body") if route.request_body else b""
    response = _call(context, name, query, path, body)
    assert response.status < 500, (name, query, path, body[:100], response.body[:300])
    if response.status == 400:
        problem = json.loads(response.body)
        fields = {"body", "limitTokens", "limitCostUsd", "thresholds", "notify", "period", "scopeId", None}
        # A key of the body that is not a quota field is named as the parameter (tests/unit/test_quotas.py).
        assert problem["detail"] and problem.get("parameter") in {*query, *path, *fields, *_keys_of(body)}


def _keys_of(body: bytes) -> set[str]:
    try:
        value = json.loads(body)
    except ValueError:
        return set()
    return set(value) if isinstance(value, dict) else set()


def test_no_parameter_value_of_any_route_gives_a_500(seeded):
    _any_values_any_route(seeded)


@pytest.mark.parametrize(
    "name, parameter, value",
    [
        ("usage", "from", "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        ("usage", "to", "9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
        ("usage", "from", "0001-01-01T00:00:00Z"),
        ("usage_timeseries", "to", "9999-12-31T23:59:59Z"),
        ("requests", "from", "1969-12-31T23:59:59Z"),
        ("usage", "status", "\u0664\u0662\u0669"),  # 429 in Arabic-Indic digits
        ("usage", "status", "99999999999999999999999"),
        ("requests", "limit", "\u0661\u0660"),
        ("requests", "limit", "18446744073709551617"),
        ("requests", "limit", "1_0"),
        ("usage", "user", "oid\x00ana"),  # PostgreSQL refuses NUL in text
        ("requests", "cursor", "%%%"),
        ("requests", "cursor", _b64(b"[1, 2]")),
        (
            "requests",
            "cursor",
            _b64(json.dumps({"t": "0001-01-01T00:00:00+05:00", "id": "x", "s": "2026-01-01T00:00:00"}).encode()),
        ),
        (
            "requests",
            "cursor",
            _b64(json.dumps({"t": "2026-01-01T00:00:00", "id": "x" * 65, "s": "2026-01-01T00:00:00"}).encode()),
        ),
        ("deadletters", "cursor", _b64(json.dumps({"before": 2**64}).encode())),
        ("deadletters", "cursor", _b64(b"\xff\xfe")),
        ("alerts", "cursor", _b64(b"alert:99999999999999999999999")),
        ("alerts", "cursor", _b64(json.dumps({"before": -1}).encode())),
    ],
)
def test_hard_values_are_400_problems_naming_their_parameter(seeded, name, parameter, value):
    response = _call(seeded, name, {parameter: value})
    assert response.status == 400 and json.loads(response.body)["parameter"] == parameter, response.body


@pytest.mark.parametrize(
    "body, field",
    [
        ({"period": "day", "limitTokens": 2**63}, "limitTokens"),  # one past BIGINT
        ({"period": "day", "limitCostUsd": 1e300}, "limitCostUsd"),
        ({"period": "day", "limitTokens": 5, "notify": ["ana@contoso.com\r\nBcc: all@contoso.com"]}, "notify"),
        ({"period": "day", "limitTokens": 5, "notify": ["Ana <ana@contoso.com>"]}, "notify"),
        (
            {"period": "day", "limitTokens": 5, "notify": [f"user{i:03d}-{'x' * 40}@contoso.com" for i in range(50)]},
            "notify",
        ),
    ],
)
def test_quota_values_beyond_their_columns_or_not_addresses_are_400(seeded, body, field):
    response = _call(
        seeded, "quota_put", route={"scopeType": "user", "scopeId": "oid-ana"}, body=json.dumps(body).encode()
    )
    assert response.status == 400 and json.loads(response.body)["parameter"] == field, response.body


def test_the_largest_limit_the_column_holds_is_stored_and_read_back(seeded):
    body = {"period": "day", "limitTokens": 2**63 - 1, "notify": ["Finance@Contoso.com"]}
    created = _call(
        seeded, "quota_put", route={"scopeType": "user", "scopeId": "oid-ana"}, body=json.dumps(body).encode()
    )
    assert created.status == 201, created.body
    listed = json.loads(_call(seeded, "quotas").body)["items"]
    assert listed[0]["limitTokens"] == 2**63 - 1 and listed[0]["notify"] == ["Finance@contoso.com"]


@pytest.mark.parametrize(
    "name, query",
    [
        ("usage", {"groupBy": "user,model"}),
        ("usage", {"groupBy": "day"}),
        ("usage", {}),
        ("usage_timeseries", {"interval": "day", "groupBy": "model"}),
        ("requests", {"limit": "1000"}),
        ("requests", {"limit": "1000", "model": "gpt-4o-2024-08-06"}),
    ],
)
def test_the_widest_range_the_api_accepts_answers_in_seconds(seeded, name, query):
    started = time.monotonic()
    response = _call(seeded, name, {"from": "1970-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z", **query})
    assert response.status == 200 and time.monotonic() - started < 10
    body = json.loads(response.body)
    assert (body["totals"]["requests"] if "totals" in body else len(body["items"])) == 20


@pytest.mark.parametrize("name, query", [("usage", {"groupBy": "hour,ip"}), ("usage_timeseries", {"interval": "hour"})])
def test_hour_buckets_cover_at_most_93_days(seeded, name, query):
    too_wide = _call(seeded, name, {"from": "2026-01-01T00:00:00Z", "to": "2026-04-04T00:00:01Z", **query})
    assert too_wide.status == 400 and "at most 93 days" in json.loads(too_wide.body)["detail"]
    end = NOW + timedelta(hours=1)
    quarter = _call(seeded, name, {"from": (end - timedelta(days=93)).isoformat(), "to": end.isoformat(), **query})
    assert quarter.status == 200 and json.loads(quarter.body)["totals"]["requests"] == 20


def test_a_ledger_of_ten_years_answers_the_widest_usage_report_exactly(any_store):
    # One call a month for ten years: 120 month-to-date spans, which once made one statement join every span to
    # every later one (13 s, then "at most 64 tables in a join" on SQLite).
    context = make_context(any_store)
    events = [
        capture_event(call_id=f"month-{i}", user_id=f"oid-{i % 5}", time=(NOW - timedelta(days=30.44 * i)).isoformat())
        for i in range(120)
    ]
    assert context.ingestor.ingest_batch([IncomingEvent(body=encode(event)) for event in events]).recorded == 120
    for group_by in ("user", "user,model", "model"):
        started = time.monotonic()
        response = _call(
            context, "usage", {"from": "1970-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z", "groupBy": group_by}
        )
        assert response.status == 200 and time.monotonic() - started < 10
        rows = json.loads(response.body)["rows"]
        assert sum(row["requests"] for row in rows) == 120 and sum(row["totalTokens"] for row in rows) == 120 * 73
        if group_by == "user":
            assert sorted(row["requests"] for row in rows) == [24] * 5


def test_a_rare_filter_examines_a_bounded_number_of_calls_per_page_and_the_walk_still_finds_each_match_once(any_store):
    context = make_context(any_store)
    events = [
        capture_event(
            call_id=f"walk-{i:03d}",
            time=(NOW - timedelta(minutes=10 * i)).isoformat(),
            deployment="rare" if i % 23 == 5 else "common",
        )
        for i in range(200)
    ]
    context.ingestor.ingest_batch([IncomingEvent(body=encode(event)) for event in events])
    expected = [event["id"] for event in events if event["deployment"] == "rare"]
    seen, cursor, pages = [], None, 0
    with any_store.read() as conn:
        while True:
            query = AuditQuery(
                NOW - timedelta(days=3),
                NOW + timedelta(hours=1),
                {"deployment": "rare"},
                limit=2,
                cursor=cursor,
                scan_budget=30,
            )
            page = list_calls(conn, query)
            seen += [item["requestId"] for item in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == expected  # newest first, each once
    assert pages >= 200 // 30  # the budget, not the limit, ended most pages
    walked = json.loads(_call(context, "requests", {"deployment": "rare", "limit": "1000"}).body)
    assert [item["requestId"] for item in walked["items"]] == expected and walked["nextCursor"] is None


@pytest.mark.parametrize(
    "route, query, named, hint",
    [
        ("usage", {"group_by": ["user"]}, "group_by", "did you mean groupBy?"),
        ("usage_timeseries", {"granularity": ["day"]}, "granularity", "valid: from, to, interval"),
        ("requests", {"groupBy": ["user"]}, "groupBy", "valid: from, to"),
        ("health", {"verbose": ["1"]}, "verbose", "this route takes no query parameters"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it_and_the_valid_ones(context, route, query, named, hint):
    response = handle(route, ApiRequest("GET", f"/api/{route}", query=query), context)
    problem = json.loads(response.body)
    assert response.status == 400 and problem["parameter"] == named
    assert problem["detail"].startswith(f"{named}: is not a parameter of this route") and hint in problem["detail"]


def test_the_function_key_parameter_the_host_reads_is_not_refused(context):
    assert handle("usage", ApiRequest("GET", "/api/usage", query={"code": ["k"]}), context).status == 200
