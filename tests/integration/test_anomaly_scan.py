"""`anomaly_scan` over a real store: alert once per episode, explain why, and stay quiet without a spike."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta
from email import policy

from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.ingest.types import IncomingEvent
from shared.jobs.anomaly_scan import run_anomaly_scan
from tests.builders import capture_event, chat_response, encode
from tests.conftest import make_context

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
SPIKE_HOUR = NOW.replace(minute=0) - timedelta(hours=3)


def _calls(context, hour: datetime, count: int, tokens: int, user: str = "oid-kofi", **fields) -> None:
    events = [
        IncomingEvent(
            body=encode(
                capture_event(
                    time=(hour + timedelta(seconds=10 * i)).isoformat(),
                    user_id=user,
                    **({"response": chat_response(prompt=tokens - 50, completion=50)} | fields),
                )
            ),
            source="test",
        )
        for i in range(count)
    ]
    context.ingestor.ingest_batch(events)


def _history(context, days: int = 9) -> None:
    """A quiet user: 2 calls of 1,000 tokens every hour for `days` days before the spike."""
    for h in range(1, days * 24):
        _calls(context, SPIKE_HOUR - timedelta(hours=h), 2, 1_000)


def test_a_spike_is_alerted_once_with_its_figures_and_the_calls_to_look_at(any_store, tmp_path):
    outbox = tmp_path / "outbox"
    context = make_context(
        any_store,
        LEDGER_EMAIL_MODE="outbox",
        LEDGER_OUTBOX_DIR=str(outbox),
        LEDGER_ALERT_TO="admin@contoso.com",
        LEDGER_PUBLIC_URL="https://ledger.contoso.com",
    )
    _history(context)
    for offset in range(3):  # three busy hours: one episode
        _calls(context, SPIKE_HOUR + timedelta(hours=offset), 40, 1_500)
    first = run_anomaly_scan(context, now=NOW)
    second = run_anomaly_scan(context, now=NOW)
    assert len(first["raised"]) == 1 and second["raised"] == []
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert "Token spike" in message["Subject"] and "user" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    # one incident, one mail: the user, the app and the subscription it lifted, in plain words
    assert "user ana@contoso.com (oid-kofi) used 60,000 tokens" in message["Subject"]
    assert "lifting app app-portal and subscription marketing-assistant (sub-marketing)" in message["Subject"]
    assert "about 30\u00d7 this user's usual hour (2,000 tokens at this hour on a typical day)" in text
    assert "MAD" not in text and "median" not in text
    # the calls that made it, largest first, each linked to its detail
    detail_links = re.findall(
        r"Largest call #\d: 1,500 tokens, gpt-4o[^:]*: https://ledger.contoso.com/api/requests/(\S+)", text
    )
    assert len(detail_links) == 3, text
    for call_id in detail_links:
        detail = handle("request_detail", ApiRequest("GET", "/", route_params={"id": call_id}), context)
        assert detail.status == 200 and json.loads(detail.body)["totalTokens"] == 1_500
    start = SPIKE_HOUR.strftime("%Y-%m-%dT%H")
    assert f"https://ledger.contoso.com/api/requests?from={start}%3A00%3A00Z" in text and "user=oid-kofi" in text
    html = message.get_body(("html",)).get_content()
    assert "#d64545" in html  # the anomalous hour's bar is marked


def test_steady_usage_raises_no_alert(store):
    context = make_context(store)
    _history(context)
    for offset in range(3):
        _calls(context, SPIKE_HOUR + timedelta(hours=offset), 2, 1_100)
    assert run_anomaly_scan(context, now=NOW)["anomalies"] == 0


def test_one_very_large_call_is_not_a_spike(store):
    context = make_context(store)
    _history(context)
    _calls(context, SPIKE_HOUR, 1, 40_000)
    assert run_anomaly_scan(context, now=NOW)["anomalies"] == 0


def test_a_burst_of_throttled_calls_and_a_new_ip_are_alerted(store):
    context = make_context(store)
    _history(context)
    _calls(context, SPIKE_HOUR, 30, 500, status=429, response={"error": {"code": "429", "message": "Rate limit"}})
    _calls(context, SPIKE_HOUR, 1, 500, ip="192.0.2.250")
    report = run_anomaly_scan(context, now=NOW)
    items = json.loads(handle("alerts", ApiRequest("GET", "/api/alerts"), context).body)["items"]
    kinds = sorted(item["kind"] for item in items)
    assert len(report["raised"]) == len(items)
    assert "error_burst" in kinds and "new_ip" in kinds
    burst = next(i for i in items if i["kind"] == "error_burst" and i["scopeType"] == "subscription")
    assert burst["data"]["throttled"] == 30 and "status=429" in burst["links"]["Calls of that hour"]
