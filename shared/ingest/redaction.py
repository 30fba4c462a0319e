"""Keep secrets out of everything the ledger stores or shows: one set of patterns, one masking pass.

Callers paste keys into prompts, SDKs echo tokens in error bodies, connection strings travel in tool calls,
and APIM can forward auth headers; the ledger keeps text for months. Every text leaves the domain through
one of these functions, applied where it leaves: `redact_record` (calls, before SQL and ADX rows),
`redact_bytes` (raw events kept as dead letters and pending parts: masked in place, so they still parse and
replay), `redact_text` (dead-letter reasons, anything else) and `install_log_redaction` (every log record).

What counts as a secret (each kind is one rule in `_RULES`; tests/unit/test_redaction.py has a positive
and a negative case per rule):
- bearer tokens (20+ token characters after `Bearer`) and any credential after `Authorization: <scheme>`;
- JWTs: three base64url segments starting `eyJ`;
- OpenAI-style keys: `sk-`, `sk-proj-`, ... with 20+ characters, one a digit;
- values of API-key labels (`api-key`, `api_key`, `Ocp-Apim-Subscription-Key`, `x-functions-key`, ...) with
  8+ characters, one a digit (placeholders such as `YOUR_API_KEY` stay); any other `...key: <value>` only
  when the value is 32 hex or 40+ letters and digits;
- connection-string secrets: `AccountKey=`, `SharedAccessKey=`, `sig=` (SAS URLs), `Password=`/`Pwd=`,
  `client_secret=`; also `"password": "..."` in JSON, and `password: v` in prose when `v` has a digit;
- Azure's identifiable keys: 84-character AI services keys (`JQQJ9` signature), Entra client secrets (`8Q~`);
- 32-hex Azure keys without a label: exactly 32 hex digits, with a letter and a digit, not part of a longer
  word. GUIDs (dashed) never match, and neither does hex right after an id label (`"id": "..."`,
  `requestId=`, `request id`) nor hex glued to `-`/`_` (W3C trace ids, `chatcmpl-...`), because ledgers
  are full of such ids and a GUID or request id is not a secret. An MD5 in prose is masked: a false positive
  we accept, since a key cannot be told from it.

Labels and values are matched also inside JSON text (`\\"api-key\\": \\"...\\"`, `\\u0022`-escaped quotes,
`\\n` before a value), because raw events hold bodies as JSON strings inside JSON. A mask never lengthens
a text: spans shorter than `MASK` become asterisks, so length limits checked before masking still hold.
Bodies are large (up to ~190 KB) and almost never contain a secret, so a rule's pattern runs only when its
cheap tests pass (a character, then a literal), the hex rule only after a C-speed test for a 32-hex run, and
a call's fields are scanned as one text.

`LEDGER_REDACT` (set once per process by `configure_redaction`) picks what is masked before storage:
`secrets` (the default, the rules above), `pii` (also personal data, below) or `off` (nothing; log records
keep their secrets masked whatever the mode, since logs leave the ledger's control). Personal data becomes a
typed placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[IP]`) and `redact_record` counts them per kind:
- e-mail addresses (RFC 5321 shapes with a letter TLD; `pkg@1.2.3` and `@mentions` stay);
- phone numbers: `+` and 8-15 digits, North American `(555) 123-4567` / `555-123-4567` with separators,
  national numbers starting with 0 in groups (`06 12 34 56 78`, `020 7946 0958`) with 9-12 digits;
- payment cards: 13-19 digits (spaces or dashes allowed) starting 2-6 that pass the Luhn check;
- IBANs: country, check digits and 11-30 letters/digits that pass the ISO 13616 mod-97 check;
- IPv4 addresses (each octet 0-255, not part of a longer dotted version) and IPv6 addresses that
  `ipaddress` accepts (at least two colons and a digit).
Why patterns and not a library: Presidio (presidio-analyzer) needs a spaCy model downloaded at run time;
these five kinds are shapes plus checksums. Caller fields (ip, user, subscription, backend URL, error code)
are never masked as personal data: reports group by them. In raw events (dead letters, pending parts) the
values of caller keys (`CALLER_KEYS`) are skipped for the same reason: a replayed event must keep its caller.
Precision and recall on a labelled set: tests/unit/test_redaction_pii.py prints them.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, overload

import orjson

if TYPE_CHECKING:
    from shared.store.records import CallRecord, DeadLetter

MASK = "[REDACTED]"

# CallRecord fields that hold free text. Identifiers and report dimensions (call id, caller ids and names,
# model, deployment, ip) are kept as sent: masking them would merge unrelated callers in every report.
RECORD_TEXT_FIELDS = (
    "prompt_text",
    "completion_text",
    "request_body",
    "response_body",
    "error_message",
    "error_code",
    "backend_url",
)
RECORD_JSON_FIELDS = ("request_params", "tool_calls", "content_filter")

Accept = Callable[[str, "re.Match[str]"], bool]


@dataclass(frozen=True, slots=True)
class _Rule:
    """One kind of secret: `pattern` marks the secret as group `s`; it runs only when its cheap tests pass.

    `gates`: characters of which every match holds at least one, tested first at memchr speed on the text
    as it is. `hint`: a literal every match contains, looked up once per text (rules share hints) in the
    ASCII-lower-cased text when `folded` (folded patterns run on that text, which is why they are written
    in lower case). Patterns start with a literal so `re` can skip ahead to it; conditions a regex would
    make slow live in `accept`.
    """

    name: str
    hint: str
    folded: bool
    pattern: re.Pattern[str]
    accept: Accept | None = None
    gates: str = ""  # one or two characters


# JSON-aware pieces: a quote as it appears at any depth of JSON-in-JSON (`"`, `\"`, `\\\"`, `\u0022`), and
# whitespace that may be written as an escape (`\n`) when the text is itself inside a JSON string.
_Q = r"(?:\\*[\"']|\\+u00(?:22|27))"
_WS = r"(?:\s|\\+[nrt])*"
_SEP = rf"(?P<sep>{_Q}?{_WS}[:=]{_WS}{_Q}?)"
_TOKEN = r"(?:[a-z0-9\-._~+/%=]|\\/)"  # folded; `\/` is JSON's escaped slash
_CONN_VALUE = r"(?:\{[^}\"\\]*\}|(?:[^;&\s\"'<>\\]|\\/)+)"  # up to `;`, `&`, a quote or an escape; ODBC {..}


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _standalone(text: str, match: re.Match[str]) -> bool:
    return not _continues_word(text, match.start())


def _continues_word(text: str, start: int) -> bool:
    """Whether position `start` continues a word; a JSON escape before it (`\\n`, `\\u0022`) ends the word."""
    if start == 0:
        return False
    before = text[start - 1]
    if not (before.isalnum() or before in "_-"):
        return False
    if start >= 2 and text[start - 2] == "\\":
        return False
    return not (
        start >= 6
        and text[start - 6] == "\\"
        and text[start - 5] == "u"
        and all(c in _HEX_DIGITS for c in text[start - 4 : start])
    )


def _standalone_with_digit(text: str, match: re.Match[str]) -> bool:
    return _standalone(text, match) and _has_digit(match.group("s"))


_API_KEY_LABEL = re.compile(r"(?:api|subscription|functions|access|account|primary|secondary|secret)[-_]?$")
_STRONG_KEY_VALUE = re.compile(r"[0-9a-f]{32}|[a-z0-9]{40,}")


def _labelled_key(text: str, match: re.Match[str]) -> bool:
    """`api-key: v` (and the like): any 8+ value with a digit; another `...key: v`: only key-shaped values."""
    value = match.group("s")
    if _API_KEY_LABEL.search(text, max(0, match.start() - 16), match.start()):
        return _has_digit(value)
    return _STRONG_KEY_VALUE.fullmatch(value) is not None


def _credential(text: str, match: re.Match[str]) -> bool:
    """After `=` (connection strings) or between quotes (JSON) always; `password: v` in prose needs a digit."""
    sep = match.group("sep")
    return "=" in sep or '"' in sep or "u0022" in sep or _has_digit(match.group("s"))


def _pwd(text: str, match: re.Match[str]) -> bool:
    """`Pwd=` of a connection string, not the shell's `PWD=/home/ana` (a directory) nor `OLDPWD=`."""
    return _credential(text, match) and _standalone(text, match) and not match.group("s").startswith("/")


def _credential_rule(name: str, label: str, gates: str, accept: Accept = _credential) -> _Rule:
    return _Rule(name, label[:5], True, re.compile(label + _SEP + rf"(?P<s>{_CONN_VALUE})"), accept, gates)


_RULES: tuple[_Rule, ...] = (
    # 20+ characters: real tokens are long, while prose ("bearer authentication") must survive.
    _Rule("bearer", "bearer", True, re.compile(rf"bearer(?:\s|\\+[nrt])+(?P<s>{_TOKEN}{{20,}})")),
    _Rule(
        "authorization",
        "authorization",
        True,
        re.compile(rf"authorization{_SEP}[a-z]+(?:\s|\\+[nrt])+(?P<s>{_TOKEN}{{8,}})"),
        gates=":=",
    ),
    _Rule(
        "jwt",
        "eyJ",
        False,
        re.compile(r"(?P<s>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"),
        _standalone,
        gates="J",
    ),
    _Rule("openai-key", "sk-", False, re.compile(r"(?P<s>sk-[A-Za-z0-9_-]{20,})"), _standalone_with_digit, gates="-"),
    _Rule("labelled-key", "key", True, re.compile(rf"key\d?{_SEP}(?P<s>{_TOKEN}{{8,}})"), _labelled_key, gates=":="),
    _Rule("account-key", "key", True, re.compile(rf"accountkey\s*=\s*(?P<s>{_CONN_VALUE})"), gates="="),
    _Rule("shared-access-key", "key", True, re.compile(rf"sharedaccesskey\s*=\s*(?P<s>{_CONN_VALUE})"), gates="="),
    _Rule("sas-signature", "sig=", True, re.compile(rf"sig=(?P<s>{_CONN_VALUE})"), _standalone, gates="="),
    # Microsoft's identifiable formats (github.com/microsoft/security-utilities, GeneratedRegexPatterns/):
    # the 84-character Azure AI services / CASK keys (SEC101/200, signature `JQQJ9` at offset 52) and Entra
    # client secrets (SEC101/156, `8Q~` at offset 3).
    _Rule(
        "azure-identifiable-key",
        "JQQJ9",
        False,
        re.compile(
            r"(?P<s>[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?)"
        ),
        _standalone,
        gates="Q",
    ),
    _Rule(
        "entra-client-secret",
        "8Q~",
        False,
        re.compile(r"(?P<s>[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{34})"),
        _standalone,
        gates="~",
    ),
    _credential_rule("password", "passw(?:or)?d", ":="),
    # `Pwd=` and `client_secret=` only after `=` (connection strings, form posts): a lookup fewer per text.
    _credential_rule("pwd", "pwd", "=", _pwd),
    _credential_rule("client-secret", "client[-_]?secret", "="),
)

# Unlabelled 32-hex keys. The optional `\uXXXX` lets an escaped quote before the key be skipped whole.
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_HEX_KEY = re.compile(r"(?:\\u[0-9a-fA-F]{4})?(?P<s>[0-9a-fA-F]{32})")
_HEX_RUN = b"x" * 32
_HEX_TABLE = bytes(0x78 if chr(c) in _HEX_DIGITS else 0x20 for c in range(256))
_ID_LABEL = re.compile(r"(?:id|hash|md5|etag|digest|checksum)(?:\\+u00(?:22|27)|[\s\"'\\:=])*$")


def _hex_keys(text: str) -> list[tuple[str, int, int]]:
    # One C pass (translate + find) rules out nearly every text before any regex runs over it.
    if _HEX_RUN not in text.encode("utf-8", "surrogatepass").translate(_HEX_TABLE):
        return []
    found = []
    for match in _HEX_KEY.finditer(text):
        start, end = match.span("s")
        if _continues_word(text, start) or (end < len(text) and (text[end].isalnum() or text[end] in "_-")):
            continue
        key = match.group("s")
        if key.isdigit() or not any(c.isdigit() for c in key):
            continue  # a 32-digit number, or a hex-looking word: keys have both
        if _ID_LABEL.search(text[max(0, start - 24) : start].lower()):
            continue
        found.append((HEX_KEY_KIND, start, end))
    return found


HEX_KEY_KIND = "hex-key"
KINDS = (*tuple(rule.name for rule in _RULES), HEX_KEY_KIND)

# -- modes and personal data ---------------------------------------------------------------------------

REDACT_MODES = ("secrets", "pii", "off")
SECRET = "secret"  # the kind every secret rule is counted as
PII_KINDS = ("email", "phone", "card", "iban", "ip")
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in PII_KINDS}
_mode = "secrets"


def configure_redaction(mode: str) -> None:
    """Set what this process masks before storage (`LEDGER_REDACT`); the composition root calls it."""
    global _mode
    if mode not in REDACT_MODES:
        raise ValueError(f"redaction mode must be one of {', '.join(REDACT_MODES)}, got {mode!r}")
    _mode = mode


def redaction_mode() -> str:
    return _mode


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


def find_redactions(text: str, mode: str | None = None) -> list[tuple[str, int, int]]:
    """What `mode` (default: the process's) masks in `text`: secrets (kind `secret`) and, with `pii`, personal
    data; sorted, without overlaps (a secret wins over personal data it overlaps, then the longer span)."""
    mode = _mode if mode is None else mode
    if mode == "off" or not text:
        return []
    found = [(SECRET, start, end) for _, start, end in find_secrets(text)]
    if mode == "pii":
        found += find_pii(text)
    if len(found) < 2:
        return found
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(found, key=lambda f: (f[1], f[0] != SECRET, f[1] - f[2])):
        if kept and start < kept[-1][2]:
            last_kind, last_start, last_end = kept[-1]
            kept[-1] = (SECRET if SECRET in (kind, last_kind) else last_kind, last_start, max(end, last_end))
        else:
            kept.append((kind, start, end))
    return kept


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every secret in `text`; the kinds are `KINDS`."""
    lowered: str | None = None
    found: list[tuple[str, int, int]] = []
    hinted: dict[tuple[str, bool], bool] = {}
    for rule in _RULES:
        if rule.gates and rule.gates[0] not in text and rule.gates[-1] not in text:
            continue
        if rule.folded:
            if lowered is None:
                lowered = text.lower()
                if len(lowered) != len(text):  # a few non-ASCII letters change length when folded
                    lowered = text.translate(_ASCII_LOWER)  # ASCII only, so offsets stay offsets in `text`
            haystack = lowered
        else:
            haystack = text
        present = hinted.get((rule.hint, rule.folded))
        if present is None:
            present = hinted[rule.hint, rule.folded] = rule.hint in haystack
        if not present:
            continue
        found.extend(
            (rule.name, *m.span("s"))
            for m in rule.pattern.finditer(haystack)
            if rule.accept is None or rule.accept(haystack, m)
        )
    found.extend(_hex_keys(text))
    return found


@overload
def redact_text(text: str, counts: dict[str, int] | None = None, *, mode: str | None = None) -> str: ...
@overload
def redact_text(text: None, counts: dict[str, int] | None = None, *, mode: str | None = None) -> None: ...
def redact_text(text: str | None, counts: dict[str, int] | None = None, *, mode: str | None = None) -> str | None:
    """`text` masked as `mode` (default: the process's `LEDGER_REDACT`) says, the same object when nothing is
    found; None stays None. Each redaction is added to `counts` by kind when given."""
    if not text:
        return text
    found = find_redactions(text, mode)
    if not found:
        return text
    if counts is not None:
        for kind, _, _ in found:
            counts[kind] = counts.get(kind, 0) + 1
    return _mask(text, found)


def redact_secrets(text: str | None) -> str | None:
    """`text` with its secrets masked, whatever the mode (log records)."""
    return redact_text(text, mode="secrets")


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _mask(text: str, found: list[tuple[str, int, int]]) -> str:
    """`text` with every span replaced (spans sorted, not overlapping): a secret by MASK, personal data by its
    placeholder; a span shorter than its replacement becomes asterisks, so a text never grows."""
    pieces: list[str] = []
    position = 0
    for kind, start, end in found:
        pieces.append(text[position:start])
        mask = PLACEHOLDERS.get(kind, MASK)
        pieces.append(mask if end - start >= len(mask) else "*" * (end - start))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_bytes(raw: bytes) -> bytes:
    """Raw event bytes masked in place as the mode says: the rest stays byte for byte, and JSON stays JSON.

    Bytes that are not UTF-8 survive (surrogateescape). Masks never contain a quote or a backslash, so a
    masked JSON document still parses; should a mask ever break it, the document is masked value by value
    and written again instead, because a dead letter must stay replayable. Personal data in the value of a
    caller key (`"ip": "..."`, `"userName": ...`) is kept: the replayed call needs its caller.
    """
    if _mode == "off":
        return raw
    text = raw.decode("utf-8", "surrogateescape")
    found = [f for f in find_redactions(text) if f[0] == SECRET or not _after_caller_key(text, f[1])]
    if not found:
        return raw
    out = _mask(text, found).encode("utf-8", "surrogateescape")
    try:
        orjson.loads(out)
    except orjson.JSONDecodeError:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return out  # not JSON before either (a cut event): in-place is all there is
        return orjson.dumps(redact_json(doc))
    return out


# Keys whose values are caller fields in the raw formats (capture/v1 `caller`, Azure Monitor's gateway log).
CALLER_KEYS = (
    "ip",
    "calleripaddress",
    "clientip",
    "userid",
    "username",
    "useremail",
    "subscriptionid",
    "subscriptionname",
    "apimsubscriptionid",
    "productid",
    "appid",
    "tenantid",
    "backendid",
    "backendurl",
    "url",
    "resourceid",
)
_CALLER_VALUE = re.compile(r"[\"'](?:" + "|".join(CALLER_KEYS) + r")\\*[\"']\s*:\s*\\*[\"']?[^\"',}\\]*$", re.I)


def _after_caller_key(text: str, start: int) -> bool:
    return _CALLER_VALUE.search(text, max(0, start - 96), start) is not None


def redact_json(value: Any, counts: dict[str, int] | None = None, *, mode: str | None = None) -> Any:
    """A JSON-shaped value (dict, list, str, ...) masked as the mode says; masked as JSON text, so labels count."""
    if value is None:
        return None
    try:
        text = _json_dump(value)
    except TypeError:  # not JSON-serialisable as it is (an integer past 64 bits, ...): string by string
        return _redact_strings(value, counts, mode)
    found: dict[str, int] = {}
    masked = redact_text(text, found, mode=mode)
    if masked is text:
        return value
    try:
        result = orjson.loads(masked)
    except orjson.JSONDecodeError:
        return _redact_strings(value, counts, mode)
    _add_counts(counts, found)
    return result


def _add_counts(counts: dict[str, int] | None, found: dict[str, int]) -> None:
    if counts is not None:
        for kind, count in found.items():
            counts[kind] = counts.get(kind, 0) + count


def _redact_strings(value: Any, counts: dict[str, int] | None, mode: str | None) -> Any:
    if isinstance(value, str):
        return redact_text(value, counts, mode=mode)
    if isinstance(value, dict):
        return {redact_text(str(k), counts, mode=mode): _redact_strings(v, counts, mode) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(v, counts, mode) for v in value]
    return value


# Free-text fields that are metadata rather than what a person wrote: secrets are masked there, personal data
# is not (a backend URL's IP names a server, not a person).
_SECRETS_ONLY_FIELDS = ("backend_url", "error_code")


def redact_field(name: str, value: str | None, counts: dict[str, int] | None = None) -> str | None:
    """One of `RECORD_TEXT_FIELDS` masked as the mode says for that field."""
    mode = "secrets" if name in _SECRETS_ONLY_FIELDS and _mode == "pii" else None
    return redact_text(value, counts, mode=mode)


def redact_record(record: CallRecord) -> CallRecord:
    """Mask the record's free-text fields in place (and return it): the one pass before a store sees it.

    The fields are scanned as one text first (the common case: nothing found, one scan per call); only a
    record with a hit is masked field by field, and `record.redactions` counts what was masked per kind
    (added to what an earlier pass counted). The break between fields ends every pattern, so the joint scan
    finds whatever a field alone would hold.
    """
    if _mode == "off":
        return record
    texts = [getattr(record, name) for name in RECORD_TEXT_FIELDS]
    try:
        texts += [_json_text(getattr(record, name)) for name in RECORD_JSON_FIELDS]
    except TypeError:  # not JSON as it is (an integer past 64 bits, ...): field by field
        pass
    else:
        if not find_redactions(_FIELD_BREAK.join(text for text in texts if text)):
            return record
    counts = dict(record.redactions or {})
    for name in RECORD_TEXT_FIELDS:
        value = getattr(record, name)
        if value:
            setattr(record, name, redact_field(name, value, counts))
    for name in RECORD_JSON_FIELDS:
        value = getattr(record, name)
        if value:
            setattr(record, name, redact_json(value, counts))
    if counts:
        record.redactions = counts
    return record


_FIELD_BREAK = "\n\x00\n"  # whitespace ends every value and a NUL every label, so no match spans two fields


def _json_text(value: Any) -> str | None:
    return None if value is None else _json_dump(value)


def _json_dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def redact_dead_letter(letter: DeadLetter) -> DeadLetter:
    """A copy with the reason masked and the raw bytes masked in place (still parseable, still replayable)."""
    return replace(letter, raw=redact_bytes(letter.raw), reason=redact_text(letter.reason) or letter.reason)


# -- log records ---------------------------------------------------------------------------------------


def redact_log_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record's message (formatted with its arguments) and its exception text, in place."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string (of any kind): logging reports it itself when a handler formats the record
        return record
    masked = redact_secrets(message)
    if masked is not message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        masked = redact_secrets(text)
        if masked != text:
            record.exc_text = masked  # Formatter.format uses exc_text when it is set
    return record


_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Mask secrets in every log record this process creates, whichever logger or handler (idempotent).

    A filter on a logger does not see its children's records and the handlers belong to the host (the
    Functions worker, pytest, the local host), so the net is the record factory every logger goes through.
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _RedactingRecordFactory):
            logging.setLogRecordFactory(_RedactingRecordFactory(current))


class _RedactingRecordFactory:
    """The log record factory in place, with each record it makes masked."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_log_record(self.inner(*args, **kwargs))
