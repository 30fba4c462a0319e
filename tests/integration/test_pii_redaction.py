"""LEDGER_REDACT=pii over a replayed corpus on SQLite and PostgreSQL: no e-mail address or card number of its
text in any stored column, pending part or dead letter; tokens, cost and caller fields (the end user an app
names too) are what the secrets-only ledger holds; request detail counts the redactions per kind."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from shared.ingest.batch import IncomingEvent
from shared.ingest.redaction import configure_redaction
from shared.reports.audit import call_detail
from shared.store.schema import calls, dead_letters
from tests.builders import CHAT_REQUEST, capture_event, chat_response, encode
from tests.conftest import make_context
from tests.integration.test_secrets_masked import stored_text

EMAILS = ("ana.garcia@contoso.com", "bo@fabrikam.co.uk")
END_USER = "cy@fabrikam.co.uk"  # the app's own user (request body `user`): a caller field, kept as sent
CARDS = ("4111 1111 1111 1111", "5555555555554444")
PROMPT = (
    f"I am {EMAILS[0]}, card {CARDS[0]}, phone +44 20 7946 0958, IBAN DE89 3704 0044 0532 0130 00, host 198.51.100.23"
)


def corpus() -> list[bytes]:
    request = {**CHAT_REQUEST, "messages": [{"role": "user", "content": PROMPT}], "user": END_USER}
    events = [
        capture_event(
            call_id=f"pii-{i}",
            request=request,
            response=chat_response(text=f"Noted: {EMAILS[1]} pays with {CARDS[1]}.", prompt=30 + i),
        )
        for i in range(3)
    ]
    dead = capture_event(call_id="pii-dead", request=request)
    del dead["time"]  # dead-lettered with its raw bytes
    events.append(dead)
    cut = encode(capture_event(call_id="pii-cut", request=request))
    return [encode(e) for e in events] + [cut[: len(cut) * 2 // 3]]


def _ingest(store, mode: str):
    context = make_context(store, LEDGER_REDACT=mode)
    result = context.ingestor.ingest_batch(
        [IncomingEvent(body=raw, source=f"corpus:{i}") for i, raw in enumerate(corpus())]
    )
    with store.read() as conn:
        numbers = conn.execute(
            select(
                calls.c.call_id,
                calls.c.prompt_tokens,
                calls.c.total_tokens,
                calls.c.cost_usd,
                calls.c.ip,
                calls.c.user_name,
                calls.c.end_user,
            ).order_by(calls.c.call_id)
        ).all()
    return result, [tuple(row) for row in numbers]


def test_pii_mode_stores_no_email_or_card_and_keeps_every_number(any_store, tmp_path):
    from shared.store.sql import SqlStore

    baseline = SqlStore.from_url(f"sqlite:///{tmp_path / 'secrets.db'}")
    try:
        _, expected = _ingest(baseline, "secrets")
        assert any(EMAILS[0] in text for text in stored_text(baseline).values())  # the corpus does carry them
    finally:
        baseline.dispose()
        configure_redaction("secrets")

    result, numbers = _ingest(any_store, "pii")
    assert result.dead_lettered >= 1 and len(numbers) == 4  # three calls and the salvaged cut one
    assert numbers == expected  # tokens, cost, ip, user name and end user as without personal-data masking
    assert {row[-1] for row in numbers} == {END_USER}

    stored = stored_text(any_store)
    leaks = [
        f"{value} in {where}"
        for where, text in stored.items()
        for value in (*EMAILS, *CARDS, "5555 5555 5555 4444")
        if value in text
    ]
    assert not leaks, leaks
    assert "[EMAIL]" in stored["call_payloads.prompt_text"] and "[CARD]" in stored["call_payloads.completion_text"]
    with any_store.read() as conn:
        raw = bytes(conn.execute(select(dead_letters.c.raw).where(dead_letters.c.event_id == "pii-dead")).scalar_one())
        detail = call_detail(conn, "pii-0")
    letter = orjson.loads(raw)  # still the event, caller kept, so a replay records the same call
    assert letter["caller"]["userName"] == "ana@contoso.com" and "[EMAIL]" in letter["request"]["body"]
    assert orjson.loads(letter["request"]["body"])["user"] == END_USER
    assert detail["redactions"]["email"] >= 3 and detail["redactions"]["card"] >= 2
    assert {"phone", "iban", "ip"} <= set(detail["redactions"]) and detail["textPurged"] is False
