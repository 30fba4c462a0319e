"""The optional daily digest: yesterday's usage mailed to the admins once, however many checks run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.app.settings import load_settings
from shared.ingest.types import IncomingEvent
from shared.jobs.digest import digest_day
from shared.jobs.quota_check import run_quota_check
from tests.builders import capture_event, encode
from tests.conftest import make_context
from tests.smtp_server import smtp_server


def test_daily_digest_mails_yesterdays_totals_to_the_admins_once(store):
    now = datetime.now(UTC)
    yesterday_noon = (now - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    events = [
        IncomingEvent(body=encode(capture_event(time=(yesterday_noon + timedelta(minutes=i)).isoformat())))
        for i in range(3)
    ]
    events.append(IncomingEvent(body=encode(capture_event(time=now.isoformat()))))  # today: not in the digest
    with smtp_server() as (port, sink):
        context = make_context(
            store,
            LEDGER_EMAIL_MODE="smtp",
            LEDGER_SMTP_HOST="127.0.0.1",
            LEDGER_SMTP_PORT=str(port),
            LEDGER_SMTP_STARTTLS="false",
            LEDGER_ALERT_TO="finops@contoso.com",
            LEDGER_DAILY_DIGEST="true",
        )
        context.ingestor.ingest_batch(events)
        run_quota_check(context, now)
        run_quota_check(context, now)
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert mail.recipients == ["finops@contoso.com"]
    assert "daily digest" in mail.message["Subject"] and "3 calls" in mail.message["Subject"]
    text = mail.message.get_body(("plain",)).get_content()
    assert "Tokens by subscription" in text and "marketing-assistant (sub-marketing)" in text  # named, not a bare id


def test_digest_is_off_unless_asked_for(store):
    with smtp_server() as (port, sink):
        context = make_context(
            store,
            LEDGER_EMAIL_MODE="smtp",
            LEDGER_SMTP_HOST="127.0.0.1",
            LEDGER_SMTP_PORT=str(port),
            LEDGER_SMTP_STARTTLS="false",
            LEDGER_ALERT_TO="finops@contoso.com",
        )
        run_quota_check(context)
    assert sink.messages == []


def test_digest_day_is_a_calendar_day_of_the_configured_time_zone():
    settings = load_settings({"LEDGER_TIMEZONE": "Europe/Paris"})
    start, end = digest_day(datetime(2026, 10, 26, 6, 0, tzinfo=UTC), settings)  # the day after DST ends
    assert start.isoformat() == "2026-10-25T00:00:00+02:00" and end.isoformat() == "2026-10-26T00:00:00+01:00"
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
