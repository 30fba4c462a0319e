"""Alerts name people and subscriptions as the ledger last saw them: the mail a real SMTP server receives and the
Teams, Slack and JSON posts a real HTTP server receives say "kofi@contoso.com (3f2a1c9e…)", not a bare GUID."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from shared.alerts.quotas import Quota, put_quota
from shared.ingest.types import IncomingEvent
from shared.jobs.quota_check import run_quota_check
from tests.builders import capture_event, chat_response, encode
from tests.conftest import make_context
from tests.integration.test_quota_check import _smtp_settings
from tests.smtp_server import smtp_server
from tests.webhook_receiver import webhook_receiver

KOFI = "3f2a1c9e-7b7d-4c1e-9f00-5a1e2b3c4d5e"  # an Entra object id, as APIM's validated token gives it
LABEL = "kofi@contoso.com (3f2a1c9e…)"


def _calls_of_kofi(context, tokens: int) -> None:
    """Four calls this month: the first two while Kofi's account had its old name, the last two after a rename."""
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    events = []
    for i in range(4):
        event = capture_event(
            time=(first + (now - first) * (i + 1) / 5).isoformat(),
            user_id=KOFI,
            response=chat_response(prompt=tokens // 4 - 10, completion=10),
        )
        event["caller"]["userName"] = "kofi.mensah@contoso.com" if i < 2 else "kofi@contoso.com"
        events.append(event)
    events.reverse()  # the newest first: the latest name wins by call time, not by arrival
    context.ingestor.ingest_batch([IncomingEvent(body=encode(event), source="test") for event in events])


def test_a_quota_mail_and_its_chat_posts_name_the_user_by_the_latest_display_name(any_store):
    with smtp_server() as (smtp_port, sink), webhook_receiver() as (base, received):
        hooks = f"teams:{base}/teams,slack:{base}/slack,json:{base}/json"
        context = make_context(any_store, **_smtp_settings(smtp_port, LEDGER_ALERT_WEBHOOKS=hooks))
        _calls_of_kofi(context, 9_000)
        quota = Quota("user", KOFI, "month", 10_000, None, (80,), ("kofi@contoso.com",))
        with context.store.write() as conn:
            put_quota(conn, quota)
        run_quota_check(context, now=datetime.now(UTC) + timedelta(seconds=1))
    [mail] = sink.messages
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    assert f"user {LABEL}: 80% of the monthly quota used" in mail.message["Subject"]
    assert f"The monthly quota of user {LABEL} is at 90%" in text and LABEL in html
    assert re.search(rf"^ +User id +{KOFI}\r?$", text, re.M), text  # the whole id too, to copy into a filter
    assert "kofi.mensah" not in text + html + json.dumps(received.accepted)  # the old name is gone everywhere
    teams = received.accepted["/teams"][0]["attachments"][0]["content"]
    facts = {fact["title"]: fact["value"] for fact in teams["body"][2]["facts"]}
    assert LABEL in teams["body"][0]["text"] and facts["Scope"] == f"user {LABEL}" and facts["User id"] == KOFI
    slack = received.accepted["/slack"][0]
    assert LABEL in slack["blocks"][0]["text"]["text"] and f"user {LABEL}" in json.dumps(slack, ensure_ascii=False)
    assert LABEL in received.accepted["/json"][0]["subject"]
