"""What counts as a secret: one rule per kind, found by `find_secrets`; the masking pass is in redaction.py.

Each kind is one rule in `_RULES`; tests/unit/test_redaction.py has a positive and a negative case per rule:
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
`\\n` before a value), because raw events hold bodies as JSON strings inside JSON.
Bodies are large (up to ~190 KB) and almost never contain a secret, so a rule's pattern runs only when its
cheap tests pass (a character, then a literal: every rule's literal is found in one pass over the text), and
the hex rule only after a C-speed test for a 32-hex run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import ahocorasick_rs

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
# The quote opening a value is named (`dq`, `sq`): a quoted value runs to its closing quote, spaces and all.
_SEP = rf"(?P<sep>{_Q}?{_WS}[:=]{_WS}(?:(?P<dq>\\*\"|\\+u0022)|(?P<sq>\\*'|\\+u0027))?)"
_TOKEN = r"(?:[a-z0-9\-._~+/%=]|\\/)"  # folded; `\/` is JSON's escaped slash
_CONN_VALUE = r"(?:\{[^}\"\\]*\}|(?:[^;&\s\"'<>\\]|\\/)+)"  # up to `;`, `&`, a quote or an escape; ODBC {..}
# A credential's value: inside quotes up to the closing quote (a password may hold spaces: "correct horse"),
# otherwise as a connection string's.
_CREDENTIAL_VALUE = rf"(?(dq)(?:[^\"\\]|\\/)+|(?(sq)(?:[^'\\]|\\/)+|{_CONN_VALUE}))"


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
    return _Rule(name, label[:5], True, re.compile(label + _SEP + rf"(?P<s>{_CREDENTIAL_VALUE})"), accept, gates)


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


def _hex_keys(text: str, raw: bytes) -> list[tuple[str, int, int]]:
    """The 32-hex keys in `text` (`raw`: its UTF-8 bytes)."""
    # One C pass (translate + find) rules out nearly every text before any regex runs over it.
    if _HEX_RUN not in raw.translate(_HEX_TABLE):
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
KINDS = (*(rule.name for rule in _RULES), HEX_KEY_KIND)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_KELVIN = "\u212a"
# Every rule's hint, lower-cased, looked up in one pass over the text (an Aho-Corasick automaton, in Rust)
# rather than one `in` per hint: a call's text is ~6 KB, and ten scans of it were most of the masking's cost.
_HINTS = sorted({rule.hint.lower() for rule in _RULES})
_HINT_SCAN = ahocorasick_rs.BytesAhoCorasick([hint.encode() for hint in _HINTS])


def _folded(text: str) -> str:
    """`text` lower-cased with its offsets kept: a few non-ASCII letters change length when folded, and
    then only ASCII letters are folded."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


_QUOTES = ('"', "'", "u0022", "u0027")


def _json_value_other_than_a_string(match: re.Match[str]) -> bool:
    """A quoted label before an unquoted value (`"password": []`, `"api-key": 100000.0`, `: true`): JSON's value
    other than a string, which no rule means, and masking it would break the JSON (inside a JSON string too)."""
    if "sep" not in match.re.groupindex or match.group("dq") or match.group("sq"):
        return False  # no label, or a quoted value
    sep = match.group("sep")
    colon = sep.find(":")
    return colon >= 0 and any(q in sep[:colon] for q in _QUOTES)


def _matches(rule: _Rule, haystack: str) -> list[tuple[str, int, int]]:
    return [
        (rule.name, *m.span("s"))
        for m in rule.pattern.finditer(haystack)
        if (rule.accept is None or rule.accept(haystack, m)) and not _json_value_other_than_a_string(m)
    ]


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every secret in `text`; the kinds are `KINDS`."""
    raw = text.encode("utf-8", "surrogatepass")
    # The hints are ASCII, so bytes with their ASCII letters folded hold the same hints as `_folded(text)`:
    # the Kelvin sign is the one other letter that folds to ASCII ("k"), and U+0130 changes length (then
    # `_folded` folds ASCII only). The scan is blind to case: a case-sensitive hint is looked up again.
    folded_raw = raw.lower() if _KELVIN not in text else _folded(text).encode("utf-8", "surrogatepass")
    lowered: str | None = None
    hints = {_HINTS[index] for index, _, _ in _HINT_SCAN.find_matches_as_indexes(folded_raw, overlapping=True)}
    found: list[tuple[str, int, int]] = []
    for rule in _RULES:
        if rule.gates and rule.gates[0] not in text and rule.gates[-1] not in text:
            continue
        if rule.hint.lower() not in hints:
            continue
        if rule.folded:
            if lowered is None:
                lowered = _folded(text)
            haystack = lowered
        elif rule.hint in text:
            haystack = text
        else:
            continue
        found.extend(_matches(rule, haystack))
    found.extend(_hex_keys(text, raw))
    return found


def find_secrets_rule_by_rule(text: str) -> list[tuple[str, int, int]]:
    """What `find_secrets` finds, by definition: every rule's pattern over the whole text, no prefilter (slow;
    tests hold `find_secrets` to it)."""
    raw, lowered = text.encode("utf-8", "surrogatepass"), _folded(text)
    found: list[tuple[str, int, int]] = []
    for rule in _RULES:
        haystack = lowered if rule.folded else text
        found.extend(_matches(rule, haystack))
    return found + _hex_keys(text, raw)
