"""Names beside ids: usage rows grouped by a named key carry the latest name the ledger has seen for the id (null
when none), in JSON, CSV and timeseries, and a filter on a named key accepts the id or the name."""

from __future__ import annotations

import csv
import io

import orjson

from shared.store.display_names import names_of
from tests.builders import capture_event, chat_response
from tests.conftest import make_context
from tests.integration.conftest import REFUSED_MODEL, refuse_model
from tests.integration.test_usage_api import call, ingest

RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def _event(call_id: str, day: int, user: str, user_name: str | None, subscription_name: str | None = None):
    event = capture_event(call_id=call_id, time=f"2026-11-{day:02d}T09:00:00Z", user_id=user)
    event["caller"]["userName"] = user_name
    event["caller"]["subscriptionName"] = subscription_name
    return event


def _seeded(store):
    context = make_context(store)
    # Kofi was renamed on the 20th; the event from before the rename arrives last and must not bring the old name
    # back. Ben never sent a name.
    ingest(context, _event("k2", 20, "oid-kofi", "kofi.mensah@contoso.com", "marketing"))
    ingest(context, _event("k1", 10, "oid-kofi", "kofi@contoso.com", "mkt-old"), _event("b1", 12, "oid-ben", None))
    return context


def _json(context, name: str, query: dict[str, str]):
    response = call(context, name, query=RANGE | query)
    assert response.status == 200, response.body
    return orjson.loads(response.body)


def test_rows_carry_the_latest_name_of_each_grouped_id_or_null(any_store):
    context = _seeded(any_store)

    users = _json(context, "usage", {"groupBy": "user"})["rows"]
    assert {row["user"]: row["userName"] for row in users} == {
        "oid-kofi": "kofi.mensah@contoso.com",
        "oid-ben": None,
    }
    assert list(users[0])[:2] == ["user", "userName"]  # the name stands beside its id
    subscriptions = _json(context, "usage", {"groupBy": "subscription,app,product"})["rows"]
    assert [(row["subscription"], row["subscriptionName"]) for row in subscriptions] == [("sub-marketing", "marketing")]
    # No input format names apps or products yet: the keys are there, null.
    assert (subscriptions[0]["appName"], subscriptions[0]["productName"]) == (None, None)
    assert "userName" not in _json(context, "usage", {"groupBy": "model"})["rows"][0]

    series = _json(context, "usage_timeseries", {"groupBy": "user", "interval": "day"})["rows"]
    assert len(series) == 2 * 30  # every day, per user, with the name on the zero rows too
    assert {(row["user"], row["userName"]) for row in series} == {
        ("oid-kofi", "kofi.mensah@contoso.com"),
        ("oid-ben", None),
    }


def test_a_filter_by_name_equals_the_filter_by_id(any_store):
    context = _seeded(any_store)
    for name, query in (
        ("usage", {"groupBy": "day"}),
        ("usage_timeseries", {"interval": "day"}),
        ("requests", {}),
    ):
        by_id = _json(context, name, query | {"user": "oid-kofi"})
        by_name = _json(context, name, query | {"user": "kofi.mensah@contoso.com"})
        assert by_name == by_id and by_id.get("rows", by_id.get("items"))
        assert _json(context, name, query | {"subscription": "marketing"}) == _json(
            context, name, query | {"subscription": "sub-marketing"}
        )
    assert _json(context, "usage", {"user": "kofi.mensah@contoso.com"})["totals"]["requests"] == 2
    assert _json(context, "usage", {"user": "kofi@contoso.com"})["totals"]["requests"] == 0  # not its name now


def test_csv_has_a_name_column_beside_each_named_key(any_store):
    context = _seeded(any_store)
    for name, query, header in (
        ("usage", {"groupBy": "user,model"}, ["user", "userName", "model"]),
        ("usage_timeseries", {"groupBy": "subscription"}, ["time", "subscription", "subscriptionName"]),
    ):
        response = call(context, name, query=RANGE | query | {"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(response.body.decode(), newline="")))
        assert list(rows[0])[: len(header)] == header
        if name == "usage":
            assert {row["user"]: row["userName"] for row in rows} == {
                "oid-kofi": "kofi.mensah@contoso.com",
                "oid-ben": "",
            }
        else:
            assert {row["subscriptionName"] for row in rows} == {"marketing"}


def test_hostile_names_are_kept_as_the_calls_keep_them_and_never_fail_the_batch(any_store):
    """PostgreSQL refuses NUL and every store has a length: a name is bounded like the call's own column."""
    context = make_context(any_store)
    ingest(
        context,
        _event("h1", 5, "oid-nul", "ana\x00@contoso.com", "s" * 1000),
        _event("h2", 6, "oid-fine", "fine@contoso.com"),
    )
    rows = _json(context, "usage", {"groupBy": "user,subscription"})["rows"]
    names = {row["user"]: (row["userName"], row["subscriptionName"]) for row in rows}
    user_name, subscription_name = names["oid-nul"]
    # One subscription: a later call without a name does not erase the one seen before.
    assert names["oid-fine"] == ("fine@contoso.com", subscription_name)
    assert "\x00" not in user_name and user_name.startswith("ana") and 0 < len(subscription_name) <= 256
    listed = _json(context, "requests", {"user": "oid-nul"})["items"]
    assert (listed[0]["userName"], listed[0]["subscriptionName"]) == (user_name, subscription_name)


def test_a_call_the_store_refuses_names_nobody(any_store):
    context = make_context(any_store)
    refuse_model(any_store)
    refused = capture_event(call_id="r1", user_id="oid-ghost", response=chat_response(model=REFUSED_MODEL))
    refused["caller"]["userName"] = "ghost@contoso.com"
    ingest(context, refused, _event("ok", 7, "oid-kofi", "kofi@contoso.com"))
    assert [row["user"] for row in _json(context, "usage", {"groupBy": "user"})["rows"]] == ["oid-kofi"]
    assert _json(context, "usage", {"user": "ghost@contoso.com"})["totals"]["requests"] == 0
    with any_store.read() as conn:
        assert names_of(conn, "user", ["oid-ghost", "oid-kofi"]) == {"oid-kofi": "kofi@contoso.com"}
