"""Keep secrets out of the store: mask credentials in captured headers and bodies before anything is written.

Callers paste keys into prompts, SDKs echo tokens in error bodies, and APIM can forward auth headers; the ledger
keeps text for months, so every header map and body passes through here first. Bodies are large (up to
~190 KB) and almost never contain a secret, so `redact_text` first looks for cheap hints (one character,
then a literal) and runs a pattern only when its hints are present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MASK = "[REDACTED]"

_SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "api-key", "ocp-apim-subscription-key", "cookie", "set-cookie",
    "x-ms-client-principal", "x-functions-key",
})
_SECRET_NAME_PARTS = ("key", "secret", "token", "password", "signature")
# Counters that merely mention tokens: useful for metering and not secret.
_PUBLIC_HEADERS = frozenset({
    "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    "consumed-tokens", "remaining-tokens", "x-ms-tokens-consumed",
})


@dataclass(frozen=True, slots=True)
class _Rule:
    """One kind of secret: `pattern` marks the secret as group `s`; it runs only when its cheap hints match.

    `char` is one character every match contains (a memchr-speed test); `hint` a literal every match contains,
    looked up in the lower-cased text when `folded`. Patterns start with that literal so `re` can skip ahead
    to it (a leading look-behind would defeat that, hence `standalone`: the match must not continue a word),
    and folded patterns run on the lower-cased text, which is why they are written in lower case.
    """

    char: str | None
    hint: str
    folded: bool
    pattern: re.Pattern[str]
    standalone: bool = False


_TOKEN = r"[a-z0-9\-._~+/%]"
_RULES: tuple[_Rule, ...] = (
    # 20+ characters: real tokens are long, while prose ("bearer authentication") must survive.
    _Rule(None, "bearer", True, re.compile(r"bearer\s+(?P<s>" + _TOKEN + r"{20,}=*)")),
    _Rule("J", "eyJ", False, re.compile(r"(?P<s>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"), True),
    _Rule("-", "sk-", False, re.compile(r"(?P<s>sk-[A-Za-z0-9_-]{20,})"), True),
    _Rule("=", "accountkey=", True, re.compile(r"accountkey=(?P<s>[^;&\s\"'<>]+)")),
    _Rule("=", "sharedaccesskey=", True, re.compile(r"sharedaccesskey=(?P<s>[^;&\s\"'<>]+)")),
    _Rule("=", "sig=", True, re.compile(r"sig=(?P<s>[^;&\s\"'<>]+)"), True),
    _Rule(None, "key", True, re.compile(
        r"key[\"']?\s*[:=]\s*[\"']?(?P<s>[0-9a-f]{32}|[a-z0-9]{40,})(?![a-z0-9])")),
)


def is_secret_header(name: str) -> bool:
    """Whether a header's value must never be stored (by name; values are not inspected)."""
    lowered = name.strip().lower()
    if lowered in _PUBLIC_HEADERS:
        return False
    return lowered in _SECRET_HEADERS or any(part in lowered for part in _SECRET_NAME_PARTS)


def redact_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of `headers` with secret values masked; names are kept so a reader can see the header was sent."""
    if not headers:
        return {}
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        if is_secret_header(name):
            redacted[name] = MASK
        else:
            redacted[name] = redact_text(value) if isinstance(value, str) else value
    return redacted


def redact_text(text: str | None) -> str | None:
    """`text` with bearer tokens, JWTs, API keys and connection-string secrets masked; None stays None."""
    if not text:
        return text
    lowered: str | None = None
    spans: list[tuple[int, int]] = []
    for rule in _RULES:
        if rule.char is not None and rule.char not in text:
            continue
        if rule.folded:
            if lowered is None:
                lowered = text.lower()
                if len(lowered) != len(text):  # a few non-ASCII letters change length when folded
                    lowered = _fold_same_length(text)
            haystack = lowered
        else:
            haystack = text
        if rule.hint in haystack:
            spans.extend(m.span("s") for m in rule.pattern.finditer(haystack)
                         if not (rule.standalone and _continues_word(haystack, m.start())))
    return _mask(text, spans) if spans else text


def _continues_word(text: str, start: int) -> bool:
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-")


def _fold_same_length(text: str) -> str:
    """Lower-case ASCII only, so offsets in the folded text are offsets in `text`."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with every span replaced by MASK (overlapping spans merged)."""
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        start = max(start, position)
        pieces.append(text[position:start])
        pieces.append(MASK)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
