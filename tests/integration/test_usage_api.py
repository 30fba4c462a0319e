"""The usage API through `shared.api.handle` over a real SQLite store: roles, parameters, CSV, cursors, retries."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from shared.api.auth import ALL_ROLES, USAGE_READ, Caller
from shared.api.handler import ROUTES, handle
from shared.api.http import ApiRequest
from shared.ingest.batch import Ingestor
from shared.ingest.types import IncomingEvent
from shared.store.schema import calls, dead_letters
from tests.builders import capture_event, encode
from tests.conftest import make_context

NOW = datetime.now(UTC).replace(microsecond=0)
CONTRACT_LIST_FIELDS = [
    "requestId",
    "time",
    "operation",
    "deployment",
    "model",
    "user",
    "userName",
    "subscription",
    "subscriptionName",
    "app",
    "ip",
    "status",
    "durationMs",
    "promptTokens",
    "completionTokens",
    "totalTokens",
    "costUsd",
    "streamed",
    "tokensEstimated",
    "endUser",  # Additions v1.1
]
CONTRACT_DETAIL_FIELDS = [
    "request",
    "promptText",
    "completionText",
    "finishReason",
    "toolCalls",
    "contentFilter",
    "cachedTokens",
    "reasoningTokens",
    "truncated",
]


def principal(oid: str | None, *roles: str) -> dict[str, str]:
    claims = [{"typ": "roles", "val": role} for role in roles]
    if oid:
        claims.append({"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": oid})
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(doc).encode()).decode()}


def call(
    context,
    name: str,
    query: dict[str, str] | None = None,
    route: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
):
    request = ApiRequest(
        ROUTES[name].method,
        f"/api/{ROUTES[name].path}",
        {k: [v] for k, v in (query or {}).items()},
        route or {},
        headers or {},
        body,
    )
    return handle(name, request, context)


def ingest(context, *events) -> None:
    context.ingestor.ingest_batch([IncomingEvent(body=encode(event)) for event in events])


@pytest.fixture
def api(store):
    """An Easy Auth deployment with a few calls of two users and one dead letter."""
    context = make_context(store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")
    ingest(
        context,
        *(
            capture_event(
                call_id=f"seed-{i}",
                time=(NOW - timedelta(hours=3 * i)).isoformat(),
                user_id="oid-ana" if i % 2 else "oid-ben",
                ip=f"203.0.113.{i % 4}",
            )
            for i in range(12)
        ),
    )
    context.ingestor.ingest_batch([IncomingEvent(body=b"\x00\x01 not json at all")])
    return context


def _path_values(name: str) -> dict[str, str]:
    values = {}
    for param in ROUTES[name].params:
        if param.location == "path":
            values[param.name] = param.enum[0] if param.enum else "999999" if param.kind == "int" else "no-such-id"
    return values


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_answers_per_its_role_matrix(api, name):
    route = ROUTES[name]
    route_values = _path_values(name)
    if route.roles is None:
        assert call(api, name, route=route_values).status == 200
        return
    assert call(api, name, route=route_values).status == 401
    assert call(api, name, route=route_values, headers=principal("oid-ana")).status == 403  # signed in, no role
    for role in sorted(ALL_ROLES):
        allowed = any(Caller("oid-ana", None, frozenset({role})).has(needed) for needed in route.roles)
        body = b"{}" if route.request_body else b""
        status = call(api, name, route=route_values, headers=principal("oid-ana", role), body=body).status
        if not allowed:
            assert status == 403, (name, role, status)
        else:
            # A body-taking route may refuse the empty body (400) only after the role check let it through.
            assert status in (200, 201, 204, 404) or (route.request_body and status == 400), (name, role, status)


def test_easyauth_principal_is_refused_unless_the_platform_or_a_setting_vouches_for_it(store):
    untrusted = make_context(store, LEDGER_AUTH="easyauth")
    response = call(untrusted, "usage", headers=principal("oid-ana", "Ledger.Admin"))
    assert response.status == 401 and "not trusted" in json.loads(response.body)["detail"]
    platform = make_context(store, LEDGER_AUTH="easyauth", WEBSITE_AUTH_ENABLED="true")
    assert call(platform, "usage", headers=principal("oid-ana", "Ledger.Admin")).status == 200
    garbled = call(platform, "usage", headers={"X-MS-CLIENT-PRINCIPAL": "%%%not-base64"})
    assert garbled.status == 401


@pytest.mark.parametrize(
    "principal_doc",
    [
        {"claims": 5},
        {"claims": {"typ": "roles"}},
        {"claims": [], "role_typ": ["roles"]},
        {"claims": [], "role_typ": {"a": 1}},
        [1, 2],
        "text",
    ],
)
def test_an_easyauth_principal_of_the_wrong_shape_is_a_401_problem_not_a_500(store, principal_doc):
    platform = make_context(store, LEDGER_AUTH="easyauth", WEBSITE_AUTH_ENABLED="true")
    encoded = base64.b64encode(json.dumps(principal_doc).encode()).decode()
    response = call(platform, "usage", headers={"X-MS-CLIENT-PRINCIPAL": encoded})
    assert response.status == 401 and response.content_type == "application/problem+json"
    assert "X-MS-CLIENT-PRINCIPAL" in json.loads(response.body)["detail"]


def test_dev_mode_refuses_requests_addressed_to_another_host(store):
    context = make_context(store)  # LEDGER_AUTH=dev
    for host in ("127.0.0.1:7071", "localhost", "LOCALHOST:7071", "[::1]:7071"):
        assert call(context, "usage", headers={"Host": host}).status == 200, host
    for host in ("evil.example", "evil.example:7071", "127.0.0.1.evil.example:7071", "localhost.:7071", "[::2]:7071"):
        response = call(context, "usage", headers={"Host": host})
        assert response.status == 401 and "addressed to localhost" in json.loads(response.body)["detail"], host


@pytest.mark.parametrize(
    "name, query, parameter",
    [
        ("usage", {"groupBy": "user,nope"}, "groupBy"),
        ("usage", {"groupBy": "user,model,ip,app"}, "groupBy"),
        ("usage", {"from": "yesterday"}, "from"),
        ("usage", {"to": "2026-13-01T00:00:00Z"}, "to"),
        ("usage", {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "from"),
        ("usage", {"status": "teapot"}, "status"),
        ("usage", {"format": "xml"}, "format"),
        ("usage_timeseries", {"interval": "week"}, "interval"),
        ("usage_timeseries", {"groupBy": "day"}, "groupBy"),
        ("usage_timeseries", {"groupBy": "user,model,ip,app"}, "groupBy"),
        ("requests", {"limit": "0"}, "limit"),
        ("requests", {"limit": "1001"}, "limit"),
        ("requests", {"limit": "ten"}, "limit"),
        ("requests", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ("deadletters", {"cursor": "%%%"}, "cursor"),
        ("deadletters", {"status": "lost"}, "status"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_parameter(api, name, query, parameter):
    response = call(api, name, query, headers=principal("oid-ana", "Ledger.Admin"))
    assert response.status == 400 and response.content_type == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["parameter"] == parameter and problem["status"] == 400 and problem["detail"].startswith(parameter)


def test_a_path_id_that_is_not_a_number_is_a_400_naming_it(api):
    response = call(api, "deadletter_retry", route={"id": "abc"}, headers=principal("oid-ana", "Ledger.Admin"))
    assert response.status == 400 and json.loads(response.body)["parameter"] == "id"


def test_usage_and_timeseries_csv_parse_back_to_the_json_figures(api):
    admin = principal("oid-x", "Usage.ReadAll")
    for name, query in (
        ("usage", {"groupBy": "user,ip"}),
        ("usage_timeseries", {"groupBy": "user", "interval": "hour"}),
    ):
        rows = json.loads(call(api, name, query, headers=admin).body)["rows"]
        response = call(api, name, {**query, "format": "csv"}, headers=admin)
        assert response.status == 200 and response.content_type.startswith("text/csv")
        parsed = list(csv.DictReader(io.StringIO(response.body.decode())))
        assert len(parsed) == len(rows) > 0
        for row, back in zip(rows, parsed, strict=True):
            for key, value in row.items():
                assert back[key] == ("" if value is None else str(value)), (name, key)


def test_timeseries_buckets_add_up_to_the_usage_totals(api):
    admin = principal("oid-x", "Usage.ReadAll")
    totals = json.loads(call(api, "usage", headers=admin).body)["totals"]
    for interval in ("hour", "day"):
        series = json.loads(call(api, "usage_timeseries", {"interval": interval}, headers=admin).body)
        assert series["totals"] == totals
        assert sum(row["requests"] for row in series["rows"]) == totals["requests"] == 12
        times = [row["time"] for row in series["rows"]]
        assert times == sorted(times) and all(t.endswith(":00:00Z") for t in times)


def test_usage_read_sees_only_its_own_rows_in_timeseries_and_the_audit_list(api):
    own = principal("oid-ana", USAGE_READ)
    series = json.loads(call(api, "usage_timeseries", {"groupBy": "user"}, headers=own).body)
    assert {row["user"] for row in series["rows"]} == {"oid-ana"} and series["totals"]["requests"] == 6
    items = json.loads(call(api, "requests", headers=own).body)["items"]
    assert len(items) == 6 and {item["user"] for item in items} == {"oid-ana"}
    assert call(api, "requests", headers=principal(None, USAGE_READ)).status == 403  # no oid: nothing to show


def test_audit_list_has_exactly_the_contract_fields_newest_first(api):
    body = json.loads(call(api, "requests", {"limit": "5"}, headers=principal("oid-x", "Usage.ReadAll")).body)
    assert len(body["items"]) == 5 and body["nextCursor"]
    assert all(list(item) == CONTRACT_LIST_FIELDS for item in body["items"])
    assert [item["requestId"] for item in body["items"]] == [f"seed-{i}" for i in range(5)]
    rest = json.loads(
        call(
            api, "requests", {"limit": "5", "cursor": body["nextCursor"]}, headers=principal("oid-x", "Usage.ReadAll")
        ).body
    )
    assert [item["requestId"] for item in rest["items"]] == [f"seed-{i}" for i in range(5, 10)]


def test_request_detail_has_the_text_and_parameters_and_unknown_ids_are_404(api):
    auditor = principal("oid-x", "Audit.Read")
    detail = json.loads(call(api, "request_detail", route={"id": "seed-3"}, headers=auditor).body)
    assert set(
        CONTRACT_LIST_FIELDS + CONTRACT_DETAIL_FIELDS + ["tokensEstimated", "bodyMissing", "streamIncomplete"]
    ) <= set(detail)
    assert detail["request"] == {"model": "gpt-4o", "temperature": 0.2, "max_tokens": 200}
    assert "travel policy" in detail["promptText"] and detail["completionText"].startswith("Book economy")
    assert detail["finishReason"] == "stop" and detail["contentFilter"]
    missing = call(api, "request_detail", route={"id": "nope"}, headers=auditor)
    assert missing.status == 404 and json.loads(missing.body)["status"] == 404


def test_walking_the_cursors_visits_every_call_once_while_ingest_runs(store):
    context = make_context(store)
    base = NOW - timedelta(days=1)
    seeded = [
        capture_event(call_id=f"old-{i:04d}", time=(base + timedelta(seconds=37 * i)).isoformat()) for i in range(400)
    ]
    seeded += [capture_event(call_id=f"tie-{i}", time=base.isoformat()) for i in range(30)]  # same time: call_id orders
    ingest(context, *seeded)
    stop = threading.Event()

    def keep_ingesting() -> None:
        n = 0
        while not stop.is_set():  # new calls land before, among and after the walk's position
            ingest(
                context,
                *(
                    capture_event(
                        call_id=f"new-{n}-{k}", time=(base + timedelta(seconds=(n * 97 + k * 13) % 15000)).isoformat()
                    )
                    for k in range(10)
                ),
            )
            n += 1

    writer = threading.Thread(target=keep_ingesting)
    writer.start()
    seen: list[str] = []
    try:
        cursor = None
        while True:
            query = {"limit": "17", "from": (base - timedelta(hours=1)).isoformat(), "to": NOW.isoformat()}
            if cursor:
                query["cursor"] = cursor
            page = json.loads(call(context, "requests", query).body)
            seen += [item["requestId"] for item in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
            time.sleep(0.002)
    finally:
        stop.set()
        writer.join()
    with store.read() as conn:
        newer = conn.execute(select(func.count()).select_from(calls).where(calls.c.call_id.like("new-%"))).scalar_one()
    assert newer > 0, "the writer never ran during the walk"
    assert len(seen) == len(set(seen))
    assert {c["id"] for c in seeded} <= set(seen)


def test_retry_records_a_dead_letter_the_current_parser_reads_and_resolves_it(api, store):
    event = capture_event(call_id="once-unreadable", time=NOW.isoformat())
    before_the_fix = Ingestor(store, api.prices, formats=())  # a parser that knew no format yet
    before_the_fix.ingest_batch([IncomingEvent(body=encode(event), source="partition 0 offset 9")])
    admin = principal("oid-admin", "Ledger.Admin")
    letters = json.loads(call(api, "deadletters", {"status": "open"}, headers=admin).body)["items"]
    letter = next(item for item in letters if item["source"] == "partition 0 offset 9")
    assert letter["preview"].startswith('{"schema":"aoai-ledger/capture/v1"') and letter["size"] == len(encode(event))
    retried = json.loads(call(api, "deadletter_retry", route={"id": str(letter["id"])}, headers=admin).body)
    assert retried == {
        "id": letter["id"],
        "outcome": "recorded",
        "status": "resolved",
        "callId": "once-unreadable",
        "reason": letter["reason"],
    }
    assert call(api, "request_detail", route={"id": "once-unreadable"}, headers=admin).status == 200
    again = json.loads(call(api, "deadletter_retry", route={"id": str(letter["id"])}, headers=admin).body)
    assert again["outcome"] == "duplicate" and again["status"] == "resolved"
    resolved = json.loads(call(api, "deadletters", {"status": "resolved"}, headers=admin).body)["items"]
    assert [item["id"] for item in resolved] == [letter["id"]] and resolved[0]["resolvedAt"]


def test_retry_of_bytes_that_still_fail_keeps_one_letter_with_the_current_reason(api, store):
    admin = principal("oid-admin", "Ledger.Admin")
    letter = json.loads(call(api, "deadletters", headers=admin).body)["items"][0]
    assert letter["preview"] == ".. not json at all"
    retried = json.loads(call(api, "deadletter_retry", route={"id": str(letter["id"])}, headers=admin).body)
    assert retried["outcome"] == "dead" and retried["status"] == "open" and "not valid JSON" in retried["reason"]
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(dead_letters)).scalar_one() == 1
    assert call(api, "deadletter_retry", route={"id": "424242"}, headers=admin).status == 404


def test_dead_letter_pages_walk_newest_first_without_repeats(api):
    api.ingestor.ingest_batch([IncomingEvent(body=f"garbage {i}".encode()) for i in range(7)])
    admin = principal("oid-admin", "Ledger.Admin")
    ids, cursor = [], None
    while True:
        page = json.loads(
            call(api, "deadletters", {"limit": "3", **({"cursor": cursor} if cursor else {})}, headers=admin).body
        )
        ids += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 8


def test_openapi_document_lists_every_route_with_its_parameters(api):
    document = json.loads(call(api, "openapi").body)
    for route in ROUTES.values():
        operation = document["paths"][f"/api/{route.path}"][route.method.lower()]
        assert [p["name"] for p in operation["parameters"]] == [p.name for p in route.params]
        if route.roles is not None:
            assert {"401", "403"} <= set(operation["responses"]) and operation["security"]
    usage = document["paths"]["/api/usage"]["get"]
    group_by = next(p for p in usage["parameters"] if p["name"] == "groupBy")
    assert "user" in group_by["schema"]["pattern"]
    assert document["components"]["securitySchemes"]["easyAuth"]["name"] == "X-MS-CLIENT-PRINCIPAL"
    assert orjson.loads(orjson.dumps(document)) == document


def test_a_to_too_early_for_the_default_range_is_a_400_naming_to(store):
    from shared.api.handler import handle
    from shared.api.http import ApiRequest
    from tests.conftest import make_context

    response = handle(
        "usage", ApiRequest("GET", "/api/usage", query={"to": ["0001-01-01T00:01:00Z"]}), make_context(store)
    )
    assert response.status == 400 and b'"parameter":"to"' in response.body
