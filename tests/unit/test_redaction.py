"""Redaction: credentials never reach the store, ordinary text passes untouched, and clean bodies stay cheap."""

from __future__ import annotations

import json
import time

import pytest

from shared.redaction import MASK, redact_headers, redact_text

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJvaWQiOiIxMjM0NTY3ODkwIiwidXBuIjoiYW5hQGNvbnRvc28uY29tIn0.c2lnbmF0dXJlLXBhcnQ"
HEX_KEY = "0123456789abcdef0123456789ABCDEF"


@pytest.mark.parametrize("name", ["Authorization", "api-key", "Ocp-Apim-Subscription-Key", "Cookie", "set-cookie",
                                  "X-Client-Secret", "x-my-token", "X-Functions-Key", "AUTHORIZATION"])
def test_secret_headers_are_masked_whatever_their_case(name: str) -> None:
    assert redact_headers({name: "s3cret-value", "Content-Type": "application/json"}) == {
        name: MASK, "Content-Type": "application/json"}


def test_token_counter_headers_are_kept() -> None:
    headers = {"x-ratelimit-remaining-tokens": "9000", "x-ms-region": "East US 2", "openai-processing-ms": "790.1"}
    assert redact_headers(headers) == headers


def test_no_headers_give_an_empty_dict() -> None:
    assert redact_headers(None) == {}
    assert redact_headers({}) == {}


def test_header_values_are_scanned_for_secrets_too() -> None:
    assert redact_headers({"x-forwarded-note": f"Bearer {JWT}"}) == {"x-forwarded-note": f"Bearer {MASK}"}


def test_bearer_token_is_masked_and_the_scheme_kept() -> None:
    assert redact_text(f'curl -H "Authorization: Bearer {JWT}"') == f'curl -H "Authorization: Bearer {MASK}"'
    assert redact_text("authorization: bearer abcdefghijklmnopqrstuvwxyz0123") == f"authorization: bearer {MASK}"


def test_bare_jwt_is_masked() -> None:
    assert redact_text(f'{{"id_token": "{JWT}"}}') == f'{{"id_token": "{MASK}"}}'


def test_openai_style_secret_keys_are_masked() -> None:
    assert redact_text("my key is sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234 ok") == f"my key is {MASK} ok"


def test_words_ending_in_sk_are_not_keys() -> None:
    text = "see task-abcdefghijklmnopqrstuvwxyz for details"
    assert redact_text(text) == text


def test_storage_and_service_bus_connection_strings_lose_their_keys() -> None:
    storage = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+/def==;EndpointSuffix=core.windows.net"
    bus = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=xyz123="
    assert redact_text(storage) == (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={MASK};EndpointSuffix=core.windows.net")
    assert redact_text(bus) == f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={MASK}"


def test_sas_signature_is_masked_and_the_rest_of_the_url_kept() -> None:
    url = "https://acct.blob.core.windows.net/c/b.json?sv=2022-11-02&se=2026-12-01&sig=AbC%2Bdef%3D&sp=r"
    assert redact_text(url) == f"https://acct.blob.core.windows.net/c/b.json?sv=2022-11-02&se=2026-12-01&sig={MASK}&sp=r"


@pytest.mark.parametrize("text", [f"api-key: {HEX_KEY}", f'{{"api-key": "{HEX_KEY}"}}', f"key={HEX_KEY}",
                                  f"Ocp-Apim-Subscription-Key: {HEX_KEY.lower()}", f"KEY = '{HEX_KEY}'"])
def test_azure_keys_after_a_key_label_are_masked(text: str) -> None:
    redacted = redact_text(text)
    assert redacted is not None and HEX_KEY.lower() not in redacted.lower() and MASK in redacted


def test_hex_without_a_key_label_is_kept() -> None:
    text = f"request id {HEX_KEY}"
    assert redact_text(text) == text


def test_ordinary_prose_about_keys_and_tokens_is_untouched() -> None:
    text = ("The key point: use bearer authentication and rotate the signing key; tokens per minute = 1000. "
            "Contoso's monkey: see JSON below.")
    assert redact_text(text) == text


def test_non_ascii_text_keeps_offsets_right() -> None:
    text = f"İstanbul ünvan — Authorization: Bearer {JWT} ✓"
    assert redact_text(text) == f"İstanbul ünvan — Authorization: Bearer {MASK} ✓"


def test_none_and_empty_text_pass_through() -> None:
    assert redact_text(None) is None
    assert redact_text("") == ""


def test_clean_150kb_body_is_returned_unchanged_and_fast() -> None:
    words = "please summarise the quarterly marketing report for the leadership team today".split()
    content = " ".join(words[i % len(words)] for i in range(22_000))
    body = json.dumps({"messages": [{"role": "user", "content": content}], "model": "gpt-4o"})
    assert 140_000 < len(body) < 200_000
    assert redact_text(body) is body
    start = time.perf_counter()
    for _ in range(20):
        redact_text(body)
    per_body_ms = (time.perf_counter() - start) / 20 * 1000
    assert per_body_ms < 5  # ~0.3 ms measured; generous for loaded CI machines
