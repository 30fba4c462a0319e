"""Keep secrets out of everything the ledger stores or shows: one set of patterns, one masking pass.

Callers paste keys into prompts, SDKs echo tokens in error bodies, connection strings travel in tool calls,
and APIM can forward auth headers; the ledger keeps text for months. Every text leaves the domain through
one of these functions, applied where it leaves: `redact_record` (calls, before SQL and ADX rows),
`redact_bytes` (raw events kept as dead letters and pending parts: masked in place, so they still parse and
replay), `redact_text` (dead-letter reasons, anything else) and `install_log_redaction` (every log record).

What is masked lives beside this module: secret_patterns.py (the secret rules, `find_secrets`) and
pii_patterns.py (personal data, `find_pii`). A mask never lengthens a text: spans shorter than `MASK` become
asterisks, so length limits checked before masking still hold. A call's fields are scanned as one text.

`LEDGER_REDACT` (set once per process by `configure_redaction`) picks what is masked before storage:
`secrets` (the default, the rules above), `pii` (also personal data, below) or `off` (nothing; log records
keep their secrets masked whatever the mode, since logs leave the ledger's control). Personal data becomes a
typed placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[IP]`) and `redact_record` counts them per kind
(the kinds are listed in pii_patterns.py). Caller fields (ip, user, end user, subscription, backend URL,
error code) are never masked as personal data: reports group by them. In raw events (dead letters, pending parts) the
values of caller keys (`CALLER_KEYS`) are skipped for the same reason: a replayed event must keep its caller.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING, Any, overload

import orjson

from shared.ingest.pii_patterns import PLACEHOLDERS, find_pii
from shared.ingest.secret_patterns import find_secrets

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
    "end_user",
)
RECORD_JSON_FIELDS = ("request_params", "tool_calls", "content_filter")

# -- modes -----------------------------------------------------------------------------------------------

REDACT_MODES = ("secrets", "pii", "off")
SECRET = "secret"  # the kind every secret rule is counted as
_mode = "secrets"


def configure_redaction(mode: str) -> None:
    """Set what this process masks before storage (`LEDGER_REDACT`); the composition root calls it."""
    global _mode
    if mode not in REDACT_MODES:
        raise ValueError(f"redaction mode must be one of {', '.join(REDACT_MODES)}, got {mode!r}")
    _mode = mode


def redaction_mode() -> str:
    return _mode


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
    "user",
    "safety_identifier",
)  # the end user, in request bodies: a replayed call keeps it too
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
# is not (a backend URL's IP names a server, not a person; an end user is a caller field reports group by,
# whatever the app chose to send: OpenAI asks apps for a hash, some send an e-mail address).
_SECRETS_ONLY_FIELDS = ("backend_url", "error_code", "end_user")


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
    except Exception:  # noqa: BLE001 - a bad format string of any kind: logging reports it itself when a handler formats the record
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
        if getattr(current, "redacts_secrets", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_log_record(current(*args, **kwargs))

        factory.redacts_secrets = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
