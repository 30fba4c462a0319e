"""Who read what: a read of a call's text, a quota change and its deletion are listed by `GET /api/audit-log`
(Ledger.Admin only) with who, which call, when and from where, newest first, walked by cursor."""

from __future__ import annotations

import orjson

from shared.api.auth import AUDIT_READ, LEDGER_ADMIN
from tests.builders import capture_event
from tests.conftest import make_context
from tests.integration.test_usage_api import call, ingest, principal


def _easyauth(store):
    return make_context(store, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true")


def test_text_reads_and_quota_changes_are_listed_with_who_which_when_and_where(any_store):
    context = _easyauth(any_store)
    ingest(context, capture_event(call_id="call-1"), capture_event(call_id="call-2"))
    auditor = principal("oid-auditor", AUDIT_READ) | {"X-Forwarded-For": "198.51.100.9, 10.0.0.4"}
    admin = principal("oid-admin", LEDGER_ADMIN)

    assert call(context, "request_detail", route={"id": "call-1"}, headers=auditor).status == 200
    assert call(context, "request_detail", route={"id": "no-such-call"}, headers=auditor).status == 404  # no text read
    quota = orjson.dumps({"period": "month", "limitTokens": 1000, "thresholds": [80], "notify": []})
    assert (
        call(context, "quota_put", route={"scopeType": "user", "scopeId": "oid-ana"}, headers=admin, body=quota).status
        == 201
    )
    assert call(context, "quota_delete", route={"scopeType": "user", "scopeId": "oid-ana"}, headers=admin).status == 204

    assert call(context, "audit_log", headers=auditor).status == 403  # reading the trail is an admin's
    page = orjson.loads(call(context, "audit_log", headers=admin).body)
    entries = [(e["action"], e["actor"], e["target"], e["clientIp"]) for e in page["items"]]
    assert entries == [
        ("quota_delete", "oid-admin", "user/oid-ana", None),
        ("quota_put", "oid-admin", "user/oid-ana", None),
        ("read_text", "oid-auditor", "call-1", "198.51.100.9"),
    ]
    assert page["items"][1]["detail"]["limitTokens"] == 1000 and page["items"][0]["time"].endswith("Z")

    walked, cursor = [], None
    while True:  # one entry a page: every entry once, in the same order
        query = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = orjson.loads(call(context, "audit_log", query=query, headers=admin).body)
        walked += [e["action"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == ["quota_delete", "quota_put", "read_text"]
    assert call(context, "audit_log", query={"cursor": "garbage"}, headers=admin).status == 400
