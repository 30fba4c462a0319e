"""Alerts posted to Teams, Slack and JSON webhooks (a real HTTP server on loopback), on real stores: each
channel gets each alert exactly once, even from two concurrent checks, and a refused post is retried."""

from __future__ import annotations

import json

import pytest

from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.app.settings import SettingsError, load_settings
from shared.jobs.quota_check import run_quota_check
from shared.store.sql import SqlStore
from tests.conftest import make_context
from tests.integration.test_quota_check import _quota_at_90_percent, run_checks_concurrently
from tests.webhook_receiver import webhook_receiver


def _webhook_settings(base: str) -> dict[str, str]:
    return {
        "LEDGER_EMAIL_MODE": "off",
        "LEDGER_PUBLIC_URL": "https://ledger.contoso.com",
        "LEDGER_ALERT_WEBHOOKS": f"teams:{base}/teams, slack:{base}/slack,json:{base}/json",
    }


def test_two_concurrent_checks_post_each_alert_once_to_teams_slack_and_json(any_store):
    with webhook_receiver() as (base, received):
        _quota_at_90_percent(make_context(any_store, **_webhook_settings(base)))
        url = any_store.engine.url.render_as_string(hide_password=False)
        stores = [SqlStore.from_url(url, create_schema=False) for _ in range(2)]  # two instances, two pools
        try:
            reports = run_checks_concurrently([make_context(store, **_webhook_settings(base)) for store in stores])
            run_quota_check(make_context(stores[0], **_webhook_settings(base)))  # a later check posts nothing again
        finally:
            for store in stores:
                store.dispose()
    assert sum(len(r["raised"]) for r in reports) == 1
    assert {path: len(posts) for path, posts in received.accepted.items()} == {"/teams": 1, "/slack": 1, "/json": 1}
    card = received.accepted["/teams"][0]["attachments"][0]
    assert (
        card["contentType"] == "application/vnd.microsoft.card.adaptive" and card["content"]["type"] == "AdaptiveCard"
    )
    facts = {fact["title"]: fact["value"] for fact in card["content"]["body"][2]["facts"]}
    assert (
        "sub-marketing" in json.dumps(card)
        and facts
        and card["content"]["actions"][0]["url"].startswith("https://ledger.contoso.com/")
    )
    slack = received.accepted["/slack"][0]
    assert slack["text"] == card["content"]["body"][0]["text"] and slack["blocks"][0]["type"] == "header"
    assert any(block["type"] == "actions" for block in slack["blocks"])
    assert (
        received.accepted["/json"][0]["subject"] == slack["text"] and received.accepted["/json"][0]["kind"] == "quota"
    )


def test_a_refused_post_is_retried_on_the_next_check_and_the_alert_lists_each_channel(store):
    with webhook_receiver(failures={"/teams": 1}) as (base, received):
        context = make_context(store, **_webhook_settings(base))
        _quota_at_90_percent(context)
        run_quota_check(context)
        assert received.refused["/teams"] == 1 and "/teams" not in received.accepted
        items = json.loads(handle("alerts", ApiRequest("GET", "/api/alerts"), context).body)["items"]
        channels = {c["channel"].split(":")[0]: c for c in items[0]["delivery"]["channels"]}
        assert channels["teams"]["status"] == "failed" and "HTTP 500" in channels["teams"]["lastError"]
        assert channels["slack"]["status"] == channels["json"]["status"] == "sent"
        run_quota_check(context)
        run_quota_check(context)
    assert {path: len(posts) for path, posts in received.accepted.items()} == {"/teams": 1, "/slack": 1, "/json": 1}
    assert base not in json.dumps(items)  # a webhook URL is a credential: never shown


@pytest.mark.parametrize(
    "value", ["discord:https://x.example/h", "teams:ftp://x.example/h", "slack:http://hooks.example/h"]
)
def test_a_webhook_setting_that_is_wrong_is_refused_without_echoing_the_url(value):
    with pytest.raises(SettingsError, match="LEDGER_ALERT_WEBHOOKS entry 1") as refused:
        load_settings({"LEDGER_ALERT_WEBHOOKS": value})
    assert "example" not in str(refused.value)
