"""Events cut short: `log-to-eventhub` truncates messages at 200 KB, leaving invalid JSON.

`CaptureSalvager` reads what precedes the cut of a capture/v1 event (schema, id, time, gateway, api,
deployment, caller, backend, request metadata and body, response status and headers, usage when it comes
before the cut) and returns the call flagged `truncated`; tokens are estimated from the captured text when
no usage can be read. The ingest engine records it and keeps the raw bytes as a `salvaged` dead letter.

`close_json` is the tolerant reader: one pass of a C-speed regex over the text finds strings and brackets
(a 150 KB body string is one match), remembers where each complete member ended, and then parses the
longest prefix that, closed with the right brackets, is valid JSON. A value cut mid-string is kept up to
the cut (its tail is what arrived of a body); a member cut elsewhere (a number, a key) is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..ingest import PricedRecord
from . import capture
from .values import EventError

# A complete string, an unterminated string running to the end (the cut), or a structural character.
_TOKENS = re.compile(rb'(?P<s>"(?:[^"\\]|\\.)*")|(?P<u>"(?:[^"\\]|\\.)*\\?\Z)|[{}\[\],]', re.S)
_CLOSE = {ord("{"): b"}", ord("["): b"]"}
_MAX_ATTEMPTS = 12


def close_json(raw: bytes) -> Any | None:
    """The longest readable prefix of a cut JSON document, closed; None when nothing can be read."""
    stack: list[int] = []
    cuts: list[tuple[int, bytes]] = []  # (end of a complete member, closers needed there)
    open_string: int | None = None
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[0]
        if first == 0x22:  # '"': a whole string, or the one the cut fell in
            if match.lastgroup == "u":
                open_string = match.start()
            continue
        if first in _CLOSE:
            stack.append(first)
            cuts.append((match.end(), _closers(stack)))
        elif first in (0x7D, 0x5D):  # '}' ']'
            if stack:
                stack.pop()
            if stack:
                cuts.append((match.end(), _closers(stack)))
        else:  # ','
            cuts.append((match.start(), _closers(stack)))
    if not stack and open_string is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    attempts: list[bytes] = []
    if open_string is not None:  # keep what arrived of the string the cut fell in
        text = _whole_escapes(raw[open_string + 1:])
        attempts.append(raw[:open_string + 1] + text + b'"' + _closers(stack))
    attempts.extend(raw[:end] + closers for end, closers in reversed(cuts[-_MAX_ATTEMPTS:]))
    for candidate in attempts:
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    return None


def _closers(stack: list[int]) -> bytes:
    return b"".join(_CLOSE[opener] for opener in reversed(stack))


def _whole_escapes(text: bytes) -> bytes:
    """Drop an escape sequence or UTF-8 character the cut split in half."""
    backslash = text.rfind(b"\\", max(0, len(text) - 6))
    if backslash != -1:
        run = len(text[:backslash + 1]) - len(text[:backslash + 1].rstrip(b"\\"))
        if run % 2 == 1:  # an escape begins here: complete only if `\x` or `\uXXXX` is whole
            tail = text[backslash + 1:]
            if not tail or (tail[:1] == b"u" and len(tail) < 5):
                text = text[:backslash]
    return text.decode("utf-8", errors="ignore").encode("utf-8")


def looks_like_capture(raw: bytes) -> bool:
    head = raw[:512].lstrip()
    return head.startswith(b"{") and capture.SCHEMA_PREFIX.encode() in head


class CaptureSalvager:
    """The `Salvager` the ingest engine calls with the raw bytes of an event it could not parse."""

    def salvage(self, raw: bytes, reason: str) -> PricedRecord | None:
        if not looks_like_capture(raw):
            return None
        doc = close_json(raw)
        if not isinstance(doc, dict) or not capture.is_capture(doc):
            return None
        response = doc.get("response")
        if isinstance(response, dict):
            response["body"] = _readable_body(response.get("body"))
        request = doc.get("request")
        if isinstance(request, dict):
            request["body"] = _readable_body(request.get("body"))
        try:
            record, usage = capture.capture_record(doc)
        except EventError:
            return None
        record.truncated = True
        return record, usage


def _readable_body(body: Any) -> Any:
    """A JSON body cut short is closed too, so its usage (when it preceded the cut) and text are read."""
    if not isinstance(body, str) or not body.lstrip().startswith(("{", "[")):
        return body
    encoded = body.encode("utf-8")
    try:
        orjson.loads(encoded)
        return body
    except orjson.JSONDecodeError:
        pass
    closed = close_json(encoded)
    return orjson.dumps(closed).decode() if closed is not None else body
