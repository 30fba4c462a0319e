"""The monthly chargeback report (`LEDGER_REPORT_TO`): last month by subscription and by user, with names and
the CSV attached, mailed through a real SMTP server once, however many runs there are."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.app.settings import load_settings
from shared.ingest.types import IncomingEvent
from shared.jobs.chargeback_report import report_month, run_chargeback_report
from shared.store.sql import SqlStore
from tests.builders import capture_event, encode
from tests.conftest import make_context
from tests.smtp_server import smtp_server
from tests.webhook_receiver import webhook_receiver

FIRST_OF_DECEMBER = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NOVEMBER = {"from": ["2026-11-01T00:00:00Z"], "to": ["2026-12-01T00:00:00Z"]}


def _event(time: str, user: str, user_name: str, subscription: str, subscription_name: str) -> IncomingEvent:
    event = capture_event(time=time, user_id=user, subscription_id=subscription)
    event["caller"] |= {"userName": user_name, "subscriptionName": subscription_name}
    return IncomingEvent(body=encode(event))


def _ingest_months(context) -> None:
    context.ingestor.ingest_batch(
        [
            _event("2026-11-03T10:00:00Z", "oid-ana", "ana@contoso.com", "sub-marketing", "marketing-assistant"),
            _event("2026-11-17T10:00:00Z", "oid-ana", "ana@contoso.com", "sub-marketing", "marketing-assistant"),
            _event("2026-11-30T23:59:00Z", "oid-kofi", "kofi@contoso.com", "sub-finance", "finance-bot"),
            _event("2026-11-20T08:00:00Z", "oid-eve", '=HYPERLINK("http://evil.example")', "sub-finance", "x"),
            _event("2026-10-31T23:59:00Z", "oid-kofi", "kofi@contoso.com", "sub-finance", "finance-bot"),  # October
            _event("2026-12-01T00:00:00Z", "oid-kofi", "kofi@contoso.com", "sub-finance", "finance-bot"),  # December
        ]
    )


def _settings(port: int, **more: str) -> dict[str, str]:
    return {
        "LEDGER_EMAIL_MODE": "smtp",
        "LEDGER_SMTP_HOST": "127.0.0.1",
        "LEDGER_SMTP_PORT": str(port),
        "LEDGER_SMTP_STARTTLS": "false",
        "LEDGER_REPORT_TO": "finops@contoso.com, controller@contoso.com",
        **more,
    }


def _api_usage(context, group_by: str) -> dict:
    request = ApiRequest("GET", "/api/usage", query={"groupBy": [group_by], **NOVEMBER})
    return json.loads(handle("usage", request, context).body)


def test_the_first_of_the_month_mails_last_months_chargeback_with_the_csv_once(store):
    with smtp_server() as (port, sink), webhook_receiver() as (base, received):
        context = make_context(store, **_settings(port, LEDGER_ALERT_WEBHOOKS=f"json:{base}/json"))
        _ingest_months(context)
        first = run_chargeback_report(context, FIRST_OF_DECEMBER)
        again = run_chargeback_report(context, FIRST_OF_DECEMBER.replace(day=2))  # the next day's run
    assert first["month"] == "2026-11" and first["raised"] is not None and again["raised"] is None
    assert len(sink.messages) == 1 and again["sent"] == []
    mail = sink.messages[0]
    assert mail.recipients == ["finops@contoso.com", "controller@contoso.com"]
    by_subscription, by_user = _api_usage(context, "subscription"), _api_usage(context, "user")
    assert (
        "2026-11" in mail.message["Subject"]
        and f"{by_user['totals']['totalTokens']:,} tokens" in mail.message["Subject"]
        and not mail.message["Subject"].endswith("$0.00")  # a small month's cost with the digits that make it true
    )
    text = mail.message.get_body(("plain",)).get_content()
    for row in by_subscription["rows"]:
        assert f"{row['totalTokens']:,} tokens" in text and row["subscription"] in text
    assert "kofi@contoso.com (oid-kofi)" in text and "marketing-assistant (sub-marketing)" in text
    bars = [line for line in text.splitlines() if "(sub-" in line and "#" in line]  # the cost chart, one bar each
    assert len(bars) == len(by_subscription["rows"]) and len({line.index("#") for line in bars}) == 1, text

    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_filename() == "chargeback-2026-11.csv" and attachment.get_content_type() == "text/csv"
    sheet = list(csv.DictReader(io.StringIO(attachment.get_content())))
    detail = _api_usage(context, "subscription,user")
    assert {(r["subscription"], r["user"], int(r["totalTokens"]), float(r["costUsd"])) for r in sheet} == {
        (r["subscription"], r["user"], r["totalTokens"], r["costUsd"]) for r in detail["rows"]
    }
    assert sum(int(r["totalTokens"]) for r in sheet) == by_subscription["totals"]["totalTokens"]
    names = {r["user"]: r["userName"] for r in sheet}
    assert names["oid-kofi"] == "kofi@contoso.com" and names["oid-eve"].startswith("'=")  # not a formula
    assert {r["subscription"]: r["subscriptionName"] for r in sheet}["sub-marketing"] == "marketing-assistant"

    [post] = received.accepted["/json"]
    assert post["kind"] == "chargeback" and post["subject"] == mail.message["Subject"]


def test_two_concurrent_runs_send_one_report(any_store):
    import threading

    with smtp_server() as (port, sink):
        _ingest_months(make_context(any_store, **_settings(port)))
        url = any_store.engine.url.render_as_string(hide_password=False)
        stores = [SqlStore.from_url(url, create_schema=False) for _ in range(2)]  # two instances, two pools
        barrier, reports = threading.Barrier(2), []

        def run(store):
            barrier.wait()
            reports.append(run_chargeback_report(make_context(store, **_settings(port)), FIRST_OF_DECEMBER))

        threads = [threading.Thread(target=run, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for store in stores:
            store.dispose()
    assert len(reports) == 2
    assert sum(r["raised"] is not None for r in reports) == 1
    assert sum(len(r["sent"]) for r in reports) == 1 and len(sink.messages) == 1


def test_a_missed_first_is_caught_up_and_no_recipients_means_no_report(store):
    with smtp_server() as (port, sink):
        _ingest_months(make_context(store, **_settings(port)))
        run_chargeback_report(make_context(store, **_settings(port, LEDGER_REPORT_TO="")), FIRST_OF_DECEMBER)
        assert sink.messages == []
        late = run_chargeback_report(make_context(store, **_settings(port)), datetime(2026, 12, 9, 6, tzinfo=UTC))
    assert late["month"] == "2026-11" and len(sink.messages) == 1


def test_last_month_is_a_calendar_month_of_the_configured_time_zone():
    settings = load_settings({"LEDGER_TIMEZONE": "Europe/Paris"})
    start, end = report_month(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), settings)  # already 1 December in Paris
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00")
    start, end = report_month(datetime(2026, 3, 15, tzinfo=UTC), settings)
    assert (start.isoformat(), end.isoformat()) == ("2026-02-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00")


def test_with_provisioned_deployments_the_mail_and_csv_charge_shared_hours(store, tmp_path):
    """November's hours of chat-prod cost $2 each; the four November calls share the hours they fall in."""
    plan = tmp_path / "ptu.json"
    provisioned = {"deployment": "chat-prod", "backend": None, "ptu": 50, "hourlyUsd": 2.0}
    plan.write_text(
        json.dumps({"deployments": [{**provisioned, "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}]})
    )
    with smtp_server() as (port, sink):
        context = make_context(store, **_settings(port, LEDGER_PTU_FILE=str(plan)))
        _ingest_months(context)
        run_chargeback_report(context, FIRST_OF_DECEMBER)
    mail = sink.messages[0]
    text = mail.message.get_body(("plain",)).get_content()
    hours = 30 * 24
    assert "Provisioned throughput (shared by use)" in text and "$8.00" in text  # four calls, four hours
    assert f"${(hours - 4) * 2:,.2f}" in text  # the hours nobody used
    [attachment] = list(mail.message.iter_attachments())
    sheet = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert {r["costUsd"] for r in sheet} == {"0.0"}  # no per-token price on a provisioned deployment
    assert sum(float(r["chargebackUsd"]) for r in sheet) == 8.0 and "ptuCostUsd" in sheet[0]
