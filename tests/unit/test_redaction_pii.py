"""Personal data (LEDGER_REDACT=pii): each kind is masked by its typed placeholder, what merely looks like it
stays, caller fields survive, and the labelled set of tests/pii_corpus.py keeps its precision and recall."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from shared.ingest.pii_patterns import iban_valid, luhn_valid
from shared.ingest.redaction import MASK, configure_redaction, redact_bytes, redact_record, redact_text
from shared.store.records import CallRecord
from tests.pii_corpus import build, score

# One or more positives per kind: (text, what must go, placeholder).
MASKED = {
    "email": ("write to ana.garcia@contoso.com today", "ana.garcia@contoso.com", "[EMAIL]"),
    "email-plus-subdomain": ("cc hana+ledger@mail.example.org", "hana+ledger@mail.example.org", "[EMAIL]"),
    "email-in-escaped-json": ('{"content": "mail\\nana@contoso.com"}', "ana@contoso.com", "[EMAIL]"),
    "phone-international": ("ring +44 20 7946 0958 now", "+44 20 7946 0958", "[PHONE]"),
    "phone-e164": ("sms +14155552671", "+14155552671", "[PHONE]"),
    "phone-nanp": ("office (415) 555-2671", "(415) 555-2671", "[PHONE]"),
    "phone-nanp-dashes": ("office 415-555-2671", "415-555-2671", "[PHONE]"),
    "phone-national": ("portable 06 12 34 56 78", "06 12 34 56 78", "[PHONE]"),
    "card-visa": ("pay with 4111 1111 1111 1111 please", "4111 1111 1111 1111", "[CARD]"),
    "card-amex": ("amex 378282246310005", "378282246310005", "[CARD]"),
    "card-dashes": ("mc 5555-5555-5555-4444", "5555-5555-5555-4444", "[CARD]"),
    "iban": ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "DE89 3704 0044 0532 0130 00", "[IBAN]"),
    "iban-compact": ("to GB82WEST12345698765432.", "GB82WEST12345698765432", "[IBAN]"),
    "ipv4": ("the VM at 203.0.113.7 refused", "203.0.113.7", "[IP]"),
    "ipv6": ("from 2001:db8::8a2e:370:7334 today", "2001:db8::8a2e:370:7334", "[IP]"),
}

KEPT = {
    "email-like": "lodash@4.17.21, @here, user@localhost, @dataclass",
    "card-failing-luhn": "order 4111 1111 1111 1112 shipped",
    "epoch-millis": "at 1764230400000 ms",
    "iban-wrong-check": "account DE88 3704 0044 0532 0130 00 rejected",
    "ip-in-version": "build 10.0.19041.1 and 1.2.3.4.5",
    "ipv6-lookalikes": "10:30:00, 00:1a:2b:3c:4d:5e, std::map, ratio 16:9",
    "phone-lookalikes": "on 2026-05-01, 01.02.2024, 1,234,567 tokens, id 123456789, $12,345.67",
    "guid": "request 5f1c0d2e-7a3b-4c5d-8e9f-0a1b2c3d4e5f",
}


@pytest.fixture
def pii():
    configure_redaction("pii")


@pytest.mark.parametrize("case", MASKED, ids=list(MASKED))
def test_each_kind_of_personal_data_becomes_its_placeholder(pii, case):
    text, value, placeholder = MASKED[case]
    counts: dict[str, int] = {}
    masked = redact_text(text, counts)
    assert value not in masked and placeholder in masked
    assert counts == {placeholder.strip("[]").lower(): 1}


@pytest.mark.parametrize("case", KEPT, ids=list(KEPT))
def test_what_only_looks_like_personal_data_stays(pii, case):
    assert redact_text(KEPT[case]) == KEPT[case]


def test_the_checksums_are_the_standard_ones():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("DE88370400440532013000")


def test_the_default_mode_masks_secrets_only_and_off_masks_nothing():
    text = "ana@contoso.com api-key: Zx9kQ2mV7pL4rT8w"
    assert redact_text(text) == f"ana@contoso.com api-key: {MASK}"  # secrets: today's behaviour
    configure_redaction("off")
    assert redact_text(text) == text and redact_bytes(text.encode()) == text.encode()
    with pytest.raises(ValueError):
        configure_redaction("everything")


def test_a_secret_and_personal_data_in_one_text_are_both_masked_and_counted(pii):
    counts: dict[str, int] = {}
    masked = redact_text("password=Hunter2-ana@contoso.com; mail bo@fabrikam.com", counts)
    assert "contoso" not in masked and "[EMAIL]" in masked and counts == {"secret": 1, "email": 1}


def test_raw_events_keep_their_caller_fields_and_stay_json(pii):
    event = {
        "caller": {"ip": "203.0.113.7", "userName": "ana@contoso.com"},
        "backend": {"url": "https://10.0.0.4/openai"},
        "request": {"body": orjson.dumps({"messages": [{"content": "I am bo@fabrikam.com at 198.51.100.2"}]}).decode()},
    }
    masked = orjson.loads(redact_bytes(orjson.dumps(event)))
    assert masked["caller"] == event["caller"] and masked["backend"] == event["backend"]
    assert orjson.loads(masked["request"]["body"])["messages"][0]["content"] == "I am [EMAIL] at [IP]"


def test_raw_events_keep_the_end_user_an_app_names_in_its_request_body(pii):
    body = {"safety_identifier": "bo@fabrikam.com", "user": "ana@contoso.com", "input": "mail cy@contoso.com"}
    masked = orjson.loads(redact_bytes(orjson.dumps({"request": {"body": orjson.dumps(body).decode()}})))
    assert orjson.loads(masked["request"]["body"]) == {
        **body,
        "input": "mail [EMAIL]",
    }  # replayed, it keeps its end user


def test_a_record_counts_its_redactions_and_keeps_numbers_and_caller_fields(pii):
    record = CallRecord(
        call_id="c1",
        time=datetime(2026, 11, 27, tzinfo=UTC),
        source="capture/v1",
        operation="chat.completions",
        ip="203.0.113.7",
        user_name="ana@contoso.com",
        end_user="bo@fabrikam.com",
        backend_url="https://10.0.0.4/openai",
        prompt_tokens=12,
        total_tokens=12,
        prompt_text="card 4111 1111 1111 1111, mail ana@contoso.com",
        completion_text="noted, ana@contoso.com",
        request_params={"user": "ana@contoso.com", "temperature": 0.2},
    )
    redact_record(record)
    assert record.prompt_text == "card [CARD], mail [EMAIL]" and record.completion_text == "noted, [EMAIL]"
    assert record.request_params == {"user": "[EMAIL]", "temperature": 0.2}
    assert (record.ip, record.user_name, record.backend_url) == (
        "203.0.113.7",
        "ana@contoso.com",
        "https://10.0.0.4/openai",
    )
    assert record.end_user == "bo@fabrikam.com"  # a caller field: reports group by it
    assert (record.prompt_tokens, record.total_tokens) == (12, 12)
    assert record.redactions == {"card": 1, "email": 3}
    redact_record(record)  # a second pass (a merge, a retry) finds nothing more and keeps the counts
    assert record.redactions == {"card": 1, "email": 3}


def test_precision_and_recall_on_the_labelled_set(capsys):
    samples = build()
    figures = score(samples)
    with capsys.disabled():
        print(f"\nPII redaction on {len(samples)} labelled texts:")
        for kind, f in figures.items():
            print(
                f"  {kind:6} precision {f['precision']:.3f} recall {f['recall']:.3f} (tp {f['tp']}, fp {f['fp']}, fn {f['fn']})"
            )
    # The set holds known misses and false positives on purpose (tests/pii_corpus.hard_cases); these floors
    # are what the patterns reach on it today, so a rule that gets worse fails here.
    assert figures["all"]["precision"] >= 0.9 and figures["all"]["recall"] >= 0.93
    for kind in ("card", "email", "iban", "ip", "phone"):
        assert figures[kind]["precision"] >= 0.85 and figures[kind]["recall"] >= 0.85, (kind, figures[kind])
