"""What counts as personal data under `LEDGER_REDACT=pii`: shapes plus checksums, found by `find_pii`.

Each match becomes a typed placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[IP]`):
- e-mail addresses (RFC 5321 shapes with a letter TLD; `pkg@1.2.3` and `@mentions` stay);
- phone numbers: `+` and 8-15 digits, North American `(555) 123-4567` / `555-123-4567` with separators,
  national numbers starting with 0 in groups (`06 12 34 56 78`, `020 7946 0958`) with 9-12 digits;
- payment cards: 13-19 digits (spaces or dashes allowed) starting 2-6 that pass the Luhn check;
- IBANs: country, check digits and 11-30 letters/digits that pass the ISO 13616 mod-97 check;
- IPv4 addresses (each octet 0-255, not part of a longer dotted version) and IPv6 addresses that
  `ipaddress` accepts (at least two colons and a digit).
Why patterns and not a library: Presidio (presidio-analyzer) needs a spaCy model downloaded at run time;
these five kinds are shapes plus checksums, so no library earns its keep here.
Precision and recall on a labelled set: tests/unit/test_redaction_pii.py prints them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

PII_KINDS = ("email", "phone", "card", "iban", "ip")
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in PII_KINDS}

# A value starts where no word character (nor a backslash: `\n` is an escape) comes before it, or right after
# a JSON escape (`\n`, `\u0022`) in text that is itself inside a JSON string.
_START = r"(?:(?<=\\[nrtbf/])|(?<=\\u00[0-9a-fA-F]{2})|(?<![\w\\]))"
_EMAIL = re.compile(
    _START + r"(?P<s>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24})(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)
_PHONE = re.compile(
    _START + r"(?P<s>\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,5}[ .\-]?\d{2,5}"
    r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}|[2-9]\d{2}(?P<sep>[.\-])\d{3}(?P=sep)\d{4}|[2-9]\d{2} \d{3} \d{4}"
    r"|0\d{1,4}(?:[ .\-/]\d{2,4}){2,4})(?![\w.\-]\d|\w)"
)
_CARD = re.compile(r"(?<![\w.\-])(?P<s>[2-6]\d{3}(?:[ \-]?\d){9,15})(?![\w\-]|\.\d)")
_IBAN = re.compile(_START + r"(?P<s>[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])")
_IPV4 = re.compile(
    r"(?<![\w.])(?P<s>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:.])(?P<s>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:])")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes (ISO/IEC 7812-1)."""
    total = 0
    for index, ch in enumerate(reversed(number)):
        digit = ord(ch) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: country and check digits moved to the end, letters as 10..35, the number mod 97 is 1."""
    compact = iban.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _phone(match: re.Match[str]) -> bool:
    value = match.group("s")
    count = len(_digits(value))
    if value.startswith("+"):
        return 8 <= count <= 15
    if value.startswith("0"):
        # national numbers in groups; dates (01.02.2024) have 8 digits, so 9-12 keeps them out
        return 9 <= count <= 12 and not re.fullmatch(r"\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}", value)
    return count == 10


def _card(match: re.Match[str]) -> bool:
    value = match.group("s")
    separators = {ch for ch in value if not ch.isdigit()}
    digits = _digits(value)
    return len(separators) <= 1 and 13 <= len(digits) <= 19 and luhn_valid(digits)


def _ipv6(match: re.Match[str]) -> bool:
    value = match.group("s")
    if value.count(":") < 2 or not any(ch.isdigit() for ch in value):
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


# (kind, cheap gate: a character every match holds, pattern, accept)
_PII_RULES: tuple[tuple[str, str, re.Pattern[str], Callable[[re.Match[str]], bool] | None], ...] = (
    ("email", "@", _EMAIL, None),
    ("card", "", _CARD, _card),
    ("iban", "", _IBAN, lambda m: iban_valid(m.group("s"))),
    ("ip", ".", _IPV4, None),
    ("ip", ":", _IPV6, _ipv6),
    ("phone", "", _PHONE, _phone),
)


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every piece of personal data in `text`; the kinds are `PII_KINDS`."""
    found: list[tuple[str, int, int]] = []
    for kind, gate, pattern, accept in _PII_RULES:
        if gate and gate not in text:
            continue
        found.extend((kind, *m.span("s")) for m in pattern.finditer(text) if accept is None or accept(m))
    return found
