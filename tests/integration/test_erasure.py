"""Erasure on request: one user's text goes from calls, pending parts and dead letters, nobody else's; the
numbers and every usage report stay; erasing again changes nothing; the audit log lists the erasure."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from shared.api.auth import LEDGER_ADMIN
from shared.store.schema import call_payloads, calls, dead_letters, pending_parts
from tests.builders import CHAT_REQUEST, capture_event
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest, principal

SECRET_PROMPT = "Ana's private question about her contract"


def test_erasing_a_users_text_keeps_numbers_and_other_users_text(any_store):
    context = make_context(any_store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")
    request = {**CHAT_REQUEST, "messages": [{"role": "user", "content": SECRET_PROMPT}]}
    ingest(
        context,
        *(capture_event(call_id=f"ana-{i}", user_id="oid-ana", request=request) for i in range(3)),
        capture_event(call_id="ben-1", user_id="oid-ben", request=request),
    )
    dead = capture_event(call_id="ana-dead", user_id="oid-ana", request=request)
    del dead["time"]
    ingest(context, dead)
    admin = principal("oid-admin", LEDGER_ADMIN) | {"X-Forwarded-For": "198.51.100.7"}
    usage_before = call(
        context,
        "usage",
        query={"groupBy": "user", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        headers=admin,
    ).body
    with any_store.read() as conn:
        numbers_before = conn.execute(select(calls).order_by(calls.c.call_id)).all()

    first = call(context, "user_text_erase", route={"id": "oid-ana"}, headers=admin)
    assert first.status == 200
    assert orjson.loads(first.body) == {"user": "oid-ana", "calls": 3, "pendingParts": 0, "deadLetters": 1}
    again = orjson.loads(call(context, "user_text_erase", route={"id": "oid-ana"}, headers=admin).body)
    assert again == {"user": "oid-ana", "calls": 0, "pendingParts": 0, "deadLetters": 0}  # idempotent

    with any_store.read() as conn:
        texts = dict(conn.execute(select(call_payloads.c.call_id, call_payloads.c.prompt_text)).all())
        raw = bytes(conn.execute(select(dead_letters.c.raw)).scalar_one())
        assert conn.execute(select(calls).order_by(calls.c.call_id)).all() == numbers_before
    assert (
        texts == {"ana-0": None, "ana-1": None, "ana-2": None, "ben-1": texts["ben-1"]}
        and SECRET_PROMPT in texts["ben-1"]
    )
    assert SECRET_PROMPT.encode() not in raw and orjson.loads(raw)["caller"]["userId"] == "oid-ana"
    assert (
        call(
            context,
            "usage",
            query={"groupBy": "user", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
            headers=admin,
        ).body
        == usage_before
    )
    detail = orjson.loads(call(context, "request_detail", route={"id": "ana-0"}, headers=admin).body)
    assert detail["textPurged"] is True and detail["promptText"] is None and detail["totalTokens"] == 73

    log = orjson.loads(call(context, "audit_log", headers=admin).body)["items"]
    assert [(e["action"], e["target"], e["clientIp"]) for e in log] == [
        ("read_text", "ana-0", "198.51.100.7"),
        ("erase_user_text", "oid-ana", "198.51.100.7"),
        ("erase_user_text", "oid-ana", "198.51.100.7"),
    ]
    assert log[2]["detail"] == {"calls": 3, "pendingParts": 0, "deadLetters": 1}


def test_erasure_reaches_pending_parts_of_the_user(any_store):
    from datetime import datetime

    from shared.reports.erasure import erase_user_text

    event = capture_event(
        call_id="ana-pending",
        user_id="oid-ana",
        request={**CHAT_REQUEST, "messages": [{"role": "user", "content": SECRET_PROMPT}]},
    )
    with any_store.write() as conn:
        conn.execute(
            pending_parts.insert().values(
                kind="claim",
                part_key="ana-pending",
                part="event",
                received_at=datetime(2026, 11, 27),
                payload=orjson.dumps(event),
            )
        )
        erased = erase_user_text(conn, "ana@contoso.com", datetime(2026, 11, 28))  # by name, as the builder names her
    assert erased.pending_parts == 1
    with any_store.read() as conn:
        payload = bytes(conn.execute(select(pending_parts.c.payload)).scalar_one())
    assert SECRET_PROMPT.encode() not in payload and orjson.loads(payload)["caller"]["userId"] == "oid-ana"
