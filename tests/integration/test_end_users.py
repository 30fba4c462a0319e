"""End users behind an app: the request body's `safety_identifier` or `user` becomes the call's `endUser` on
every operation that takes one, reports group and filter by it, and one end user's text can be erased."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import orjson
from sqlalchemy import select

from shared.api.auth import LEDGER_ADMIN
from shared.reports.erasure import erase_end_user_text
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts
from tests.builders import CHAT_REQUEST, capture_event, chat_response
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest, principal

RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
COMPLETION = {
    "object": "text_completion",
    "model": "gpt-35-turbo-instruct",
    "choices": [{"index": 0, "text": "Paris.", "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
EMBEDDING = {
    "object": "list",
    "model": "text-embedding-3-small",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
    "usage": {"prompt_tokens": 4, "total_tokens": 4},
}
RESPONSE = {
    "object": "response",
    "status": "completed",
    "model": "gpt-4o-2024-08-06",
    "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Paris."}]}],
    "usage": {"input_tokens": 6, "output_tokens": 2, "total_tokens": 8},
}
# (APIM operation id, path, request body without the end user, response body) of each operation that takes one.
OPERATIONS = {
    "chat.completions": (
        "ChatCompletions_Create",
        "/openai/deployments/chat/chat/completions",
        CHAT_REQUEST,
        chat_response(),
    ),
    "completions": (
        "Completions_Create",
        "/openai/deployments/instruct/completions",
        {"prompt": "The capital of France is", "max_tokens": 5},
        COMPLETION,
    ),
    "embeddings": (
        "embeddings_create",
        "/openai/deployments/embed/embeddings",
        {"input": "the travel policy"},
        EMBEDDING,
    ),
    "responses": (
        "createResponse",
        "/openai/v1/responses",
        {"model": "gpt-4o", "input": "Capital of France?"},
        RESPONSE,
    ),
}


def _event(operation: str, call_id: str, **body_extra):
    operation_id, path, request, response = OPERATIONS[operation]
    return capture_event(
        call_id=call_id, operation=operation_id, path=path, request={**request, **body_extra}, response=response
    )


def test_end_user_from_user_and_safety_identifier_on_every_operation(any_store):
    context = make_context(any_store)
    events, expected = [], {}
    for operation in OPERATIONS:
        for key in ("user", "safety_identifier"):
            call_id, end_user = f"{operation}-{key}", f"{key}:{operation}"
            events.append(_event(operation, call_id, **{key: end_user}))
            expected[call_id] = (operation, end_user)
    # Both sent: the newer safety_identifier supersedes user. Neither, or not a name: no end user.
    events += [
        _event("chat.completions", "both", user="old-id", safety_identifier="new-id"),
        _event("chat.completions", "none"),
        _event("embeddings", "not-a-name", user={"id": 7}, safety_identifier="  "),
    ]
    expected |= {
        "both": ("chat.completions", "new-id"),
        "none": ("chat.completions", None),
        "not-a-name": ("embeddings", None),
    }
    ingest(context, *events)

    with any_store.read() as conn:
        stored = {
            row.call_id: (row.operation, row.end_user)
            for row in conn.execute(select(calls.c.call_id, calls.c.operation, calls.c.end_user))
        }
    assert stored == expected
    for call_id, (_, end_user) in expected.items():
        assert orjson.loads(call(context, "request_detail", route={"id": call_id}).body)["endUser"] == end_user
    listed = orjson.loads(call(context, "requests", query=RANGE | {"limit": "1000"}).body)["items"]
    assert {item["requestId"]: item["endUser"] for item in listed} == {k: v for k, (_, v) in expected.items()}

    usage = orjson.loads(call(context, "usage", query=RANGE | {"groupBy": "endUser,operation"}).body)
    assert {(row["endUser"], row["operation"]) for row in usage["rows"]} == {(v, op) for op, v in expected.values()}
    one = orjson.loads(call(context, "usage", query=RANGE | {"endUser": "user:embeddings"}).body)
    assert one["totals"]["requests"] == 1 and one["totals"]["totalTokens"] == 4
    page = orjson.loads(call(context, "requests", query=RANGE | {"endUser": "safety_identifier:responses"}).body)[
        "items"
    ]
    assert [item["requestId"] for item in page] == ["responses-safety_identifier"]


def test_end_user_reports_equal_a_count_of_the_calls_over_whole_and_cut_ranges(any_store):
    """groupBy=endUser is served by the rollups (a narrow cut, cumulative sums, raw edges): the same counts."""
    context = make_context(any_store)
    calls_made = []
    for i in range(40):
        moment = datetime(2026, 11, 1 + i % 20, i % 24, 17, tzinfo=UTC)
        event = capture_event(
            call_id=f"c{i}", time=moment.isoformat(), request={**CHAT_REQUEST, "user": f"shopper-{i % 4}"}
        )
        event["caller"]["appId"] = f"app-{i % 2}"
        calls_made.append((moment, f"app-{i % 2}", f"shopper-{i % 4}"))
        ingest(context, event)
    for start, end in (
        (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 11, 3, 5, 30, tzinfo=UTC), datetime(2026, 11, 18, 20, 45, tzinfo=UTC)),
    ):
        query = {"from": start.isoformat(), "to": end.isoformat()}
        for group_by, key in (
            ("app,endUser", lambda app, end_user: (app, end_user)),
            ("endUser", lambda app, end_user: (end_user,)),
        ):
            rows = orjson.loads(call(context, "usage", query=query | {"groupBy": group_by}).body)["rows"]
            counted = Counter(key(app, end_user) for moment, app, end_user in calls_made if start <= moment < end)
            assert {tuple(row[k] for k in group_by.split(",")): row["requests"] for row in rows} == counted
        filtered = orjson.loads(call(context, "usage", query=query | {"endUser": "shopper-1", "groupBy": "app"}).body)[
            "rows"
        ]
        assert {row["app"]: row["requests"] for row in filtered} == Counter(
            app for moment, app, end_user in calls_made if start <= moment < end and end_user == "shopper-1"
        )


def test_usage_csv_has_an_end_user_column(any_store):
    context = make_context(any_store)
    ingest(
        context,
        _event("chat.completions", "a", user="shopper-1"),
        _event("responses", "b", safety_identifier="shopper-2"),
    )
    response = call(context, "usage", query=RANGE | {"groupBy": "endUser", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert sorted((row["endUser"], row["requests"]) for row in rows) == [("shopper-1", "1"), ("shopper-2", "1")]


SECRET = "Bo's private question about his order"


def test_erasing_an_end_users_text_keeps_numbers_and_everyone_elses_text(any_store):
    context = make_context(any_store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")
    secret_chat = {**CHAT_REQUEST, "messages": [{"role": "user", "content": SECRET}]}
    ingest(
        context,
        *(capture_event(call_id=f"bo-{i}", request={**secret_chat, "user": "shopper-bo"}) for i in range(2)),
        _event("responses", "bo-r", input=SECRET, safety_identifier="shopper-bo"),
        capture_event(call_id="cy-1", request={**secret_chat, "user": "shopper-cy"}),
        capture_event(call_id="ana-1", request=secret_chat),
    )  # same APIM user, no end user
    dead = capture_event(call_id="bo-dead", request={**secret_chat, "safety_identifier": "shopper-bo"})
    other_dead = capture_event(call_id="cy-dead", request={**secret_chat, "user": "shopper-cy"})
    del dead["time"], other_dead["time"]
    ingest(context, dead, other_dead)
    admin = principal("oid-admin", LEDGER_ADMIN)
    usage_before = call(context, "usage", query=RANGE | {"groupBy": "endUser"}, headers=admin).body
    with any_store.read() as conn:
        numbers_before = conn.execute(select(calls).order_by(calls.c.call_id)).all()

    first = call(context, "enduser_text_erase", route={"id": "shopper-bo"}, headers=admin)
    assert first.status == 200
    assert orjson.loads(first.body) == {"endUser": "shopper-bo", "calls": 3, "pendingParts": 0, "deadLetters": 1}
    again = orjson.loads(call(context, "enduser_text_erase", route={"id": "shopper-bo"}, headers=admin).body)
    assert again == {"endUser": "shopper-bo", "calls": 0, "pendingParts": 0, "deadLetters": 0}  # idempotent

    with any_store.read() as conn:
        texts = dict(conn.execute(select(call_payloads.c.call_id, call_payloads.c.prompt_text)).all())
        raws = [bytes(raw) for raw in conn.execute(select(dead_letters.c.raw).order_by(dead_letters.c.id)).scalars()]
        assert conn.execute(select(calls).order_by(calls.c.call_id)).all() == numbers_before
    assert {k for k, v in texts.items() if v is None} == {"bo-0", "bo-1", "bo-r"}
    assert all(SECRET in texts[k] for k in ("cy-1", "ana-1"))
    erased_dead, kept_dead = (orjson.loads(raw) for raw in raws)
    assert (
        erased_dead["id"] == "bo-dead"
        and erased_dead["request"]["body"] is None
        and erased_dead["caller"]["userId"] == "oid-ana"
    )
    assert kept_dead["id"] == "cy-dead" and SECRET in kept_dead["request"]["body"]
    assert call(context, "usage", query=RANGE | {"groupBy": "endUser"}, headers=admin).body == usage_before
    log = orjson.loads(call(context, "audit_log", headers=admin).body)["items"]
    assert [(e["action"], e["target"], e["detail"]["calls"]) for e in log] == [
        ("erase_enduser_text", "shopper-bo", 0),
        ("erase_enduser_text", "shopper-bo", 3),
    ]


def test_end_user_erasure_needs_the_admin_role(any_store):
    from shared.api.auth import USAGE_READ_ALL

    context = make_context(any_store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")
    ingest(context, capture_event(call_id="bo-1", request={**CHAT_REQUEST, "user": "shopper-bo"}))
    assert (
        call(
            context, "enduser_text_erase", route={"id": "shopper-bo"}, headers=principal("oid-x", USAGE_READ_ALL)
        ).status
        == 403
    )
    assert call(context, "enduser_text_erase", route={"id": "shopper-bo"}).status == 401
    with any_store.read() as conn:
        assert conn.execute(select(call_payloads.c.purged_at)).scalar_one() is None


def test_end_user_erasure_reaches_pending_parts_whose_request_body_names_them(any_store):
    with any_store.write() as conn:
        for call_id, end_user in (("bo-pending", "shopper-bo"), ("cy-pending", "shopper-cy")):
            event = capture_event(
                call_id=call_id,
                request={
                    **CHAT_REQUEST,
                    "messages": [{"role": "user", "content": SECRET}],
                    "safety_identifier": end_user,
                },
            )
            conn.execute(
                pending_parts.insert().values(
                    kind="claim",
                    part_key=call_id,
                    part="event",
                    received_at=datetime(2026, 11, 27),
                    payload=orjson.dumps(event),
                )
            )
        erased = erase_end_user_text(conn, "shopper-bo", datetime(2026, 11, 28))
    assert erased.as_json() == {"calls": 0, "pendingParts": 1, "deadLetters": 0}
    with any_store.read() as conn:
        payloads = dict(conn.execute(select(pending_parts.c.part_key, pending_parts.c.payload)).all())
    assert SECRET.encode() not in bytes(payloads["bo-pending"]) and SECRET.encode() in bytes(payloads["cy-pending"])
