"""`GET /api/dashboard` through `shared.api.handle` over a real SQLite ledger: the range a request picks, the
figures against `/api/usage`, days without calls, hostile names, and who sees what."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import unquote

import pytest

from shared.alerts.quotas import put_quota, quota_from_json
from shared.api.dashboard_data import dashboard_range
from shared.ingest.types import IncomingEvent
from shared.reports.usage import UsageQuery, query_top, query_usage
from tests.builders import capture_event, chat_response
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest, principal

NOW = datetime.now(UTC)
TODAY = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp; "quoted"'
ADMIN = principal("oid-admin", "Ledger.Admin")
READ_ALL = principal("oid-boss", "Usage.ReadAll")
ANA = principal("oid-ana", "Usage.Read")


def _caller(user_id: str, user_name: str, subscription: str = "sub-marketing") -> dict[str, str]:
    return {
        "ip": "203.0.113.7",
        "subscriptionId": subscription,
        "subscriptionName": f"{subscription} team",
        "productId": "gold",
        "userId": user_id,
        "userName": user_name,
        "appId": f"app-of-{user_id}",
        "tenantId": "tenant-1",
    }


@pytest.fixture
def ledger(store):
    return seed(store)


def seed(store):
    """Calls of three users over the last 30 days (8 days with calls, the others without), one user with a
    hostile name, a quota on that user and a dead letter; the context of an Easy Auth deployment over it."""
    context = make_context(store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")
    people = [("oid-ana", "ana@contoso.com"), ("oid-ben", "ben@contoso.com"), ("oid-eve", HOSTILE)]
    events = []
    for i in range(24):  # every fourth day has no call
        day = TODAY - timedelta(days=(i // 3) * 4)
        elapsed = min(NOW - day, timedelta(days=1))  # today's calls are in the past at any time of day
        user, name = people[i % 3]
        events.append(
            capture_event(
                call_id=f"d-{i}",
                time=(day + elapsed * (i % 3 + 1) / 4).isoformat(),
                caller=_caller(user, name, "sub-ops" if user == "oid-eve" else "sub-marketing"),
                response=chat_response(prompt=100 * (i % 3 + 1), completion=10),
                status=200 if i % 5 else 500,
            )
        )
    ingest(context, *events)
    context.ingestor.ingest_batch([IncomingEvent(body=b"\x00 this is no event")])
    with store.write() as conn:
        put_quota(conn, quota_from_json({"period": "month", "limitTokens": 500}, "user", "oid-eve"))
        put_quota(conn, quota_from_json({"period": "month", "limitCostUsd": 0.5}, "subscription", "sub-marketing"))
    return context


def _page(context, query=None, headers=ADMIN) -> str:
    response = call(context, "dashboard", query or {}, headers=headers)
    assert response.status == 200, response.body[:400]
    assert response.content_type.startswith("text/html")
    return response.body.decode()


def _total(page: str, key: str) -> str:
    found = re.search(rf'id="total-{key}" data-value="([^"]*)"', page)
    assert found, key
    return found.group(1)


def test_the_page_totals_are_the_usage_totals_of_its_range(ledger):
    for query in ({}, {"period": "30d"}, {"from": (TODAY - timedelta(days=9)).isoformat()}):
        page = _page(ledger, query)
        csv_link = unescape(re.search(r'href="(usage\?format=csv[^"]*groupBy=day)"', page).group(1))
        params = dict(part.split("=", 1) for part in csv_link.split("?", 1)[1].split("&"))
        usage = {"from": unquote(params["from"]), "to": unquote(params["to"])}
        totals = json.loads(call(ledger, "usage", usage, headers=ADMIN).body)["totals"]
        assert int(_total(page, "requests")) == totals["requests"] > 0
        assert int(_total(page, "totalTokens")) == totals["totalTokens"]
        assert float(_total(page, "costUsd")) == totals["costUsd"]
        assert int(_total(page, "failureRate")) == totals["failedRequests"] > 0
        csv = call(ledger, "usage", {k: unquote(v) for k, v in params.items()}, headers=ADMIN)  # the link works
        assert csv.content_type.startswith("text/csv") and len(csv.body.decode().splitlines()) > 1


def test_a_narrowed_page_links_its_csv_to_the_same_filters(ledger):
    page = _page(ledger, {"user": "oid-ana", "model": "gpt-4o-2024-08-06"})
    links = re.findall(r'href="(usage\?format=csv[^"]*)"', page)
    assert len(links) == 5 and all("user=oid-ana" in link and "model=gpt-4o-2024-08-06" in link for link in links)


def test_days_without_calls_are_zero_rows_and_zero_bars(ledger):
    page = _page(ledger, {"period": "30d"})
    days = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>([\d,]+)</td><td>([\d,]+)</td>", page)
    assert len(days) == 30 and days[-1][0] == TODAY.strftime("%Y-%m-%d")
    empty = [day for day, calls, _ in days if calls == "0"]
    assert (TODAY - timedelta(days=1)).strftime("%Y-%m-%d") in empty and len(empty) == 30 - 8
    assert len(re.findall(r'<rect class="bar"', page)) == 30
    assert page.count('height="0.0"') == len(empty)


def test_hostile_names_are_text_not_markup(ledger):
    page = _page(ledger, {"user": "oid-eve"})
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # shown, as text
    assert "&amp;amp;" in page  # even an entity in a name is shown as typed


def test_the_range_is_whole_utc_days():
    now = datetime(2026, 12, 17, 15, 42, tzinfo=UTC)
    month = dashboard_range({}, now)
    assert (month.start, month.end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 18, tzinfo=UTC))
    days = dashboard_range({"period": "30d"}, now)
    assert (days.start, days.end) == (datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 12, 18, tzinfo=UTC))
    first = dashboard_range({}, datetime(2027, 1, 1, 0, 5, tzinfo=UTC))  # the first minutes of a month
    assert (first.start, first.end) == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"group_by": "user"}, "group_by"),
        ({"period": "week"}, "period"),
        ({"period": "30d", "from": "2026-11-01"}, "period"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
    ],
)
def test_a_bad_or_unknown_parameter_is_a_400_naming_it(ledger, query, parameter):
    response = call(ledger, "dashboard", query, headers=ADMIN)
    assert response.status == 400 and json.loads(response.body)["parameter"] == parameter


def test_a_usage_read_caller_sees_only_their_own_usage_and_no_other_name(ledger):
    page = _page(ledger, headers=ANA)
    own = json.loads(call(ledger, "usage", {"from": TODAY.replace(day=1).isoformat()}, headers=ANA).body)["totals"]
    assert int(_total(page, "requests")) == own["requests"] > 0
    assert "ana@contoso.com" in page
    for other in ("ben@contoso.com", "oid-ben", "oid-eve", "&lt;script", "sub-ops"):
        assert other not in page, other
    assert 'id="quotas"' not in page and 'id="alerts"' not in page and 'id="dead-letters"' not in page
    narrowed = _page(ledger, {"user": "oid-ben"}, headers=ANA)  # asking for another user shows nothing of them
    assert "ben@contoso.com" not in narrowed and _total(narrowed, "requests") == "0"


def test_sections_follow_the_roles_of_their_routes(ledger):
    read_all = _page(ledger, headers=READ_ALL)
    assert 'id="quotas"' in read_all and 'id="alerts"' in read_all and 'id="dead-letters"' not in read_all
    admin = _page(ledger, headers=ADMIN)
    assert re.search(r'id="dead-letters-open">1<', admin)
    quota = re.search(r'<section class="panel" id="quotas">.*?</section>', admin).group(0)
    assert "&lt;script&gt;" in quota and "oid-eve" in quota and 'class="meter"' in quota  # named, with its bar
    assert call(ledger, "dashboard", headers=principal("oid-ana", "Audit.Read")).status == 403
    assert call(ledger, "dashboard", headers=principal(None, "Usage.Read")).status == 403  # no oid: nothing to show


def test_top_rows_link_to_the_page_narrowed_to_them(ledger):
    page = _page(ledger, {"period": "30d"})
    users = re.search(r'<section class="panel" id="top-user">.*?</section>', page).group(0)
    assert 'href="dashboard?period=30d&amp;user=oid-ben"' in users and "ben@contoso.com" in users
    narrowed = _page(ledger, {"period": "30d", "user": "oid-ben"})
    assert "Narrowed to" in narrowed and "ben@contoso.com (oid-ben)" in narrowed
    assert int(_total(narrowed, "requests")) == 8
    by_name = _page(ledger, {"period": "30d", "user": "ben@contoso.com"})  # a filter takes the name, as the API's
    assert _total(by_name, "requests") == "8"


def test_the_top_rows_are_the_costliest_of_the_usage_report_unpriced_last(any_store):
    context = make_context(any_store)
    events = [
        capture_event(
            time=(NOW - timedelta(hours=i)).isoformat(),
            caller=_caller(f"oid-{i % 4}", f"user {i % 4}"),
            response=chat_response(
                model="no-such-model" if i % 4 == 3 else "gpt-4o-2024-08-06", prompt=40 * (i % 4 + 1)
            ),
        )
        for i in range(12)
    ]
    ingest(context, *events)
    query = UsageQuery(NOW - timedelta(days=1), NOW + timedelta(hours=1), ("user",))
    with any_store.read() as conn:
        rows = query_usage(conn, query).rows
        top = query_top(conn, query, 3)
    by_cost = sorted(rows, key=lambda r: (r["costUsd"] is None, -(r["costUsd"] or 0), -r["totalTokens"], r["user"]))
    assert top == by_cost[:3] and [row["user"] for row in top] == ["oid-2", "oid-1", "oid-0"]
    assert top[0]["userName"] == "user 2"
    with any_store.read() as conn:
        assert query_top(conn, query, 10)[-1]["costUsd"] is None  # the unpriced user, after every priced one


def test_with_provisioned_throughput_the_page_charges_what_the_api_charges(store, tmp_path):
    """LEDGER_PTU_FILE: the page's cost is the API's (0 per token), its charge the shares of the hours."""
    seed(store)
    plan = tmp_path / "ptu.json"
    start = (TODAY - timedelta(days=60)).isoformat().replace("+00:00", "Z")
    entry = {"deployment": "chat-prod", "backend": None, "ptu": 50, "hourlyUsd": 2.0, "from": start, "to": None}
    plan.write_text(json.dumps({"deployments": [entry]}))
    context = make_context(store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true", LEDGER_PTU_FILE=str(plan))
    page = _page(context, {"period": "30d"})
    csv_link = unescape(re.search(r'href="(usage\?format=csv[^"]*groupBy=day)"', page).group(1))
    params = dict(part.split("=", 1) for part in csv_link.split("?", 1)[1].split("&"))
    usage = {"from": unquote(params["from"]), "to": unquote(params["to"])}
    totals = json.loads(call(context, "usage", usage, headers=ADMIN).body)["totals"]
    assert float(_total(page, "costUsd")) == totals["costUsd"] == 0.0  # every call is on the provisioned deployment
    assert float(_total(page, "chargebackUsd")) == totals["chargebackUsd"] > 0
    assert float(_total(page, "ptuIdleCostUsd")) == totals["ptuIdleCostUsd"] > 0
    top = re.search(r'id="top-user".*?</section>', page, re.S).group(0)
    assert "$0.00<" not in top  # the top users are ranked and shown by what they are charged
