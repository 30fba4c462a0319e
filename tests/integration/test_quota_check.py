"""`quota_check` against real stores (SQLite file, PostgreSQL) and a real SMTP server on loopback."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared.alerts.delivery import deliver_pending, sender_for
from shared.alerts.quotas import Quota, put_quota
from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.ingest.types import IncomingEvent
from shared.jobs.quota_check import run_quota_check
from shared.store.schema_alerts import alerts
from shared.store.sql import SqlStore
from tests.builders import capture_event, chat_response, encode
from tests.conftest import make_context
from tests.net import free_port
from tests.smtp_server import smtp_server

NOW = datetime.now(UTC)


def _smtp_settings(port: int, **extra: str) -> dict[str, str]:
    return {
        "LEDGER_EMAIL_MODE": "smtp",
        "LEDGER_SMTP_HOST": "127.0.0.1",
        "LEDGER_SMTP_PORT": str(port),
        "LEDGER_SMTP_STARTTLS": "false",
        "LEDGER_ALERT_TO": "admin@contoso.com",
        "LEDGER_PUBLIC_URL": "https://ledger.contoso.com",
        **extra,
    }


def _use_tokens(context, tokens: int, calls: int = 4) -> None:
    """Record `calls` calls of subscription sub-marketing this hour, `tokens` in all."""
    per_call = tokens // calls
    # At the start of this hour, milliseconds apart: never after the check's now (in minute 0, calls at NOW plus
    # a few seconds were in the future of a check run at once, so it counted none of them).
    moment = NOW.replace(minute=0, second=0, microsecond=0)
    events = [
        IncomingEvent(
            body=encode(
                capture_event(
                    time=(moment + timedelta(milliseconds=i)).isoformat(),
                    response=chat_response(prompt=per_call - 10, completion=10),
                )
            ),
            source="test",
        )
        for i in range(calls)
    ]
    context.ingestor.ingest_batch(events)


def _quota_at_90_percent(context) -> Quota:
    _use_tokens(context, 9_000)
    quota = Quota("subscription", "sub-marketing", "month", 10_000, None, (50, 80, 100), ("owner@contoso.com",))
    with context.store.write() as conn:
        put_quota(conn, quota)
    return quota


def test_a_quota_at_90_percent_mails_its_recipients_once_naming_the_highest_threshold(any_store):
    with smtp_server() as (port, sink):
        context = make_context(any_store, **_smtp_settings(port))
        _quota_at_90_percent(context)
        first = run_quota_check(context)
        second = run_quota_check(context)
    assert len(first["sent"]) == 1 and second["sent"] == [] and second["raised"] == []
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert sorted(mail.recipients) == ["admin@contoso.com", "owner@contoso.com"]
    assert "80%" in mail.message["Subject"] and "90%" in mail.message["Subject"]
    html = mail.message.get_body(("html",)).get_content()
    text = mail.message.get_body(("plain",)).get_content()
    assert "https://ledger.contoso.com/api/usage?groupBy=day" in html and "<table" in html and "<img" not in html
    assert "Forecast at period end" in text


def run_checks_concurrently(contexts) -> list[dict]:
    """`run_quota_check` on each context at the same moment (one thread each), as instances scaled out would."""
    barrier = threading.Barrier(len(contexts))
    reports, errors = [], []

    def check(ctx):
        try:
            barrier.wait()
            reports.append(run_quota_check(ctx))
        except Exception as exc:  # noqa: BLE001 - any failure, surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(ctx,)) for ctx in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return reports


def test_two_concurrent_checks_send_exactly_one_mail(any_store):
    with smtp_server() as (port, sink):
        context = make_context(any_store, **_smtp_settings(port))
        _quota_at_90_percent(context)
        url = any_store.engine.url.render_as_string(hide_password=False)
        stores = [SqlStore.from_url(url, create_schema=False) for _ in range(2)]  # two instances, two pools
        contexts = [make_context(store, **_smtp_settings(port)) for store in stores]
        reports = run_checks_concurrently(contexts)
        for store in stores:
            store.dispose()
    assert sum(len(r["raised"]) for r in reports) == 1
    assert sum(len(r["sent"]) for r in reports) == 1
    assert len(sink.messages) == 1


def test_a_failed_send_is_kept_and_retried_on_the_next_check(store):
    port = free_port()  # nothing listens yet: the relay is down
    context = make_context(store, **_smtp_settings(port))
    _quota_at_90_percent(context)
    first = run_quota_check(context)
    assert first["failed"] == first["raised"] and first["sent"] == []
    with store.read() as conn:
        row = conn.execute(select(alerts)).mappings().one()
    assert row["status"] == "failed" and row["attempts"] == 1 and "Error" in row["last_error"]
    with smtp_server(port) as (_, sink):
        second = run_quota_check(context)
        third = run_quota_check(context)
    assert second["sent"] == first["raised"] and third["sent"] == []
    assert len(sink.messages) == 1


def test_a_new_higher_threshold_alerts_again_in_the_same_period(store):
    context = make_context(
        store,
        LEDGER_EMAIL_MODE="outbox",
        LEDGER_OUTBOX_DIR=str(store.engine.url.database) + ".out",
        LEDGER_ALERT_TO="admin@contoso.com",
    )
    _quota_at_90_percent(context)
    assert len(run_quota_check(context)["raised"]) == 1
    _use_tokens(context, 2_000)  # now 110 %
    third = run_quota_check(context)
    assert len(third["raised"]) == 1
    with store.read() as conn:
        subjects = list(conn.execute(select(alerts.c.subject).order_by(alerts.c.id)).scalars())
    assert "80%" in subjects[0] and "100%" in subjects[1]


def test_smtp_login_is_used_when_configured(store):
    with smtp_server(login=("ledger", "s3cret")) as (port, sink):
        context = make_context(
            store, **_smtp_settings(port, LEDGER_SMTP_USERNAME="ledger", LEDGER_SMTP_PASSWORD="s3cret")
        )
        _quota_at_90_percent(context)
        assert len(run_quota_check(context)["sent"]) == 1
    assert len(sink.messages) == 1


def test_quotas_file_is_applied_idempotently_and_owns_its_entries(store, tmp_path):
    path = tmp_path / "quotas.json"
    path.write_text(
        json.dumps(
            [
                {
                    "scopeType": "user",
                    "scopeId": "oid-ana",
                    "period": "day",
                    "limitTokens": 5000,
                    "notify": ["ana@contoso.com"],
                }
            ]
        )
    )
    context = make_context(store, LEDGER_QUOTAS_FILE=str(path))
    run_quota_check(context)
    run_quota_check(context)
    listed = json.loads(handle("quotas", ApiRequest("GET", "/api/quotas"), context).body)["items"]
    assert [(q["scopeType"], q["scopeId"], q["limitTokens"]) for q in listed] == [("user", "oid-ana", 5000)]
    path.write_text("[]")
    run_quota_check(context)
    assert json.loads(handle("quotas", ApiRequest("GET", "/api/quotas"), context).body)["items"] == []


def test_quota_routes_validate_the_body_and_show_status(store):
    context = make_context(store)
    _use_tokens(context, 4_000)
    bad = handle(
        "quota_put",
        ApiRequest(
            "PUT",
            "/api/quotas/subscription/sub-marketing",
            route_params={"scopeType": "subscription", "scopeId": "sub-marketing"},
            body=b'{"period": "month", "limitTokens": "lots"}',
        ),
        context,
    )
    assert bad.status == 400 and json.loads(bad.body)["parameter"] == "limitTokens"
    put = handle(
        "quota_put",
        ApiRequest(
            "PUT",
            "/api/quotas/subscription/sub-marketing",
            route_params={"scopeType": "subscription", "scopeId": "sub-marketing"},
            body=b'{"period": "month", "limitTokens": 10000}',
        ),
        context,
    )
    assert put.status == 201
    status = json.loads(put.body)["status"]
    assert status["usedTokens"] == 4000 and status["percent"] == 40.0 and status["crossed"] == []
    assert set(status) >= {"periodStart", "periodEnd", "usedCostUsd", "forecastPercent", "forecastFullAt"}
    params = {"scopeType": "subscription", "scopeId": "sub-marketing"}
    assert handle("quota_delete", ApiRequest("DELETE", "/", route_params=params), context).status == 204
    assert handle("quota_delete", ApiRequest("DELETE", "/", route_params=params), context).status == 404


def test_a_quota_on_a_scope_never_seen_is_kept_with_a_warning_naming_it(any_store):
    context = make_context(any_store)
    _use_tokens(context, 400)  # calls of user oid-ana

    def put(scope_type: str, scope_id: str):
        params = {"scopeType": scope_type, "scopeId": scope_id}
        return handle(
            "quota_put",
            ApiRequest(
                "PUT",
                f"/api/quotas/{scope_type}/{scope_id}",
                route_params=params,
                body=b'{"period": "month", "limitTokens": 10000}',
            ),
            context,
        )

    typo = put("user", "oid-anna")
    assert typo.status == 201
    assert json.loads(typo.body)["warning"].startswith("no calls seen for user 'oid-anna' yet; check the id")
    listed = json.loads(handle("quotas", ApiRequest("GET", "/api/quotas"), context).body)["items"]
    assert [(q["scopeType"], q["scopeId"]) for q in listed] == [("user", "oid-anna")]  # kept all the same
    for scope_type, scope_id in (
        ("user", "oid-ana"),
        ("subscription", "sub-marketing"),
        ("model", "gpt-4o-2024-08-06"),
    ):
        seen = put(scope_type, scope_id)
        assert seen.status == 201 and "warning" not in json.loads(seen.body), scope_type


def test_alerts_are_listed_newest_first_with_cursor_pages(store):
    context = make_context(store, LEDGER_EMAIL_MODE="off")
    _quota_at_90_percent(context)
    run_quota_check(context)
    _use_tokens(context, 2_000)
    run_quota_check(context)
    page = json.loads(handle("alerts", ApiRequest("GET", "/api/alerts", query={"limit": ["1"]}), context).body)
    assert page["items"][0]["data"]["threshold"] == 100 and page["items"][0]["delivery"]["status"] == "off"
    rest = json.loads(
        handle("alerts", ApiRequest("GET", "/api/alerts", query={"cursor": [page["nextCursor"]]}), context).body
    )
    assert [i["data"]["threshold"] for i in rest["items"]] == [80] and rest["nextCursor"] is None
    assert deliver_pending(store, sender_for(context.settings), context.settings).sent == []


def test_a_small_cost_quota_mail_shows_enough_digits_and_a_forecast_in_the_same_units(store):
    """110 % of a few cents must not read "$0.05 of $0.05", and the forecast reads like the figure above it."""
    with smtp_server() as (port, sink):
        context = make_context(store, **_smtp_settings(port))
        _use_tokens(context, 9_000)
        quota = Quota("subscription", "sub-marketing", "month", None, 0.02, (100,), ("owner@contoso.com",))
        with context.store.write() as conn:
            put_quota(conn, quota)
        assert len(run_quota_check(context)["sent"]) == 1
    text = sink.messages[0].message.get_body(("plain",)).get_content()
    assert "is at 114% (9,000 tokens; $0.0228 of $0.02)" in text
    forecast = re.search(r"Forecast at period end +([\d,.]+)% \(([\d,]+) tokens; \$([\d.,]+) of \$0\.02\)", text)
    assert forecast, text
    share, tokens, dollars = (float(group.replace(",", "")) for group in forecast.groups())
    assert abs(share / 100 - tokens / 9_000 * 1.14) < 0.001 * share  # the same rate for the percent, tokens ...
    assert abs(dollars / 0.02 - share / 100) < 0.01 * share / 100  # ... and dollars, to their rounding
    assert "already reached" in text
