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
from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson

from shared.ingest.formats import capture
from shared.ingest.types import PricedRecord
from shared.ingest.values import EventError

# A complete string, an unterminated string running to the end (the cut), a run of opening or of closing
# brackets, or a comma with the scalars and commas after it (a run holds no string: its commas are members' ends).
_TOKENS = re.compile(
    rb'(?P<s>"(?:[^"\\]|\\.)*")|(?P<u>"(?:[^"\\]|\\.)*\\?\Z)|(?P<o>[{\[]+)|(?P<c>[}\]]+)|,[^"{}\[\]]*', re.S
)
_CLOSING = bytes.maketrans(b"{[", b"}]")
_MAX_ATTEMPTS = 12
# orjson reads 1024 levels but writes only 254, and a salvaged body is written again as text: a prefix closed
# deeper than this is not worth trying.
_MAX_DEPTH = 254

# The open brackets as a linked stack of runs, innermost first: (openers, how many of them are open, rest,
# depth). Pushing or popping shares the rest instead of copying it, so remembering the stack at a cut is O(1).
_Stack = tuple[bytes, int, "_Stack", int] | None


def close_json(raw: bytes) -> Any | None:
    """The longest readable prefix of a cut JSON document, closed; None when nothing can be read.

    Linear in the length of `raw`, whatever it holds: a run of brackets or of scalars is one regex match,
    only the last `_MAX_ATTEMPTS` places to cut are kept, and closers are spelled out for those alone.
    (Spelling them out at every bracket made 100 KB of `[` take three minutes and 5 GB.)
    """
    stack: _Stack = None
    depth = 0
    # (where the cut is, or where a comma run starts; None, or where that run ends; the stack there), at most
    # `_MAX_DEPTH` deep: a prefix closed deeper is not worth trying
    cuts: deque[tuple[int, int | None, _Stack]] = deque(maxlen=_MAX_ATTEMPTS)
    remember = cuts.append
    open_string: int | None = None
    for match in _TOKENS.finditer(raw):
        kind = match.lastgroup
        if kind == "s":
            continue
        if kind == "o":
            start, end = match.span()
            depth += end - start
            stack = (raw[start:end], end - start, stack, depth)
            if depth <= _MAX_DEPTH:
                remember((end, None, stack))
        elif kind == "c":
            start, end = match.span()
            stack = _pop(stack, end - start)
            depth = 0 if stack is None else stack[3]
            if 0 < depth <= _MAX_DEPTH:
                remember((end, None, stack))
        elif kind == "u":  # the string the cut fell in
            open_string = match.start()
        elif depth <= _MAX_DEPTH:  # commas: each ends a member
            remember((*match.span(), stack))
    if stack is None and open_string is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    for candidate in _candidates(raw, open_string, stack, cuts):
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    return None


def _pop(stack: _Stack, count: int) -> _Stack:
    while count and stack is not None:
        openers, still_open, rest, depth = stack
        if count < still_open:
            return (openers, still_open - count, rest, depth - count)
        count -= still_open
        stack = rest
    return stack


def _depth(stack: _Stack) -> int:
    return 0 if stack is None else stack[3]


def _closers(stack: _Stack) -> bytes:
    closers = []
    while stack is not None:
        openers, still_open, stack, _ = stack
        closers.append(openers[:still_open][::-1].translate(_CLOSING))
    return b"".join(closers)


def _candidates(
    raw: bytes, open_string: int | None, stack: _Stack, cuts: deque[tuple[int, int | None, _Stack]]
) -> Iterator[bytes]:
    """The closed prefixes to try, longest first: at most `_MAX_ATTEMPTS` + 1 of them, none deeper than orjson
    reads, each at most len(raw) + `_MAX_DEPTH` bytes long."""
    if open_string is not None and _depth(stack) <= _MAX_DEPTH:  # keep what arrived of the string cut short
        text = _whole_escapes(raw[open_string + 1 :])
        yield raw[: open_string + 1] + text + b'"' + _closers(stack)
    attempts = 0
    for position, run_end, at_cut in reversed(cuts):
        closers = _closers(at_cut)
        ends = [position] if run_end is None else _commas(raw, position, run_end, _MAX_ATTEMPTS - attempts)
        for end in ends:
            yield raw[:end] + closers
            attempts += 1
        if attempts >= _MAX_ATTEMPTS:
            return


def _commas(raw: bytes, start: int, end: int, limit: int) -> list[int]:
    """The positions of the last `limit` commas of raw[start:end], last first."""
    found: list[int] = []
    while len(found) < limit:
        end = raw.rfind(b",", start, end)
        if end == -1:
            break
        found.append(end)
    return found


def _whole_escapes(text: bytes) -> bytes:
    """Drop an escape sequence or UTF-8 character the cut split in half."""
    backslash = text.rfind(b"\\", max(0, len(text) - 6))
    if backslash != -1:
        run = len(text[: backslash + 1]) - len(text[: backslash + 1].rstrip(b"\\"))
        if run % 2 == 1:  # an escape begins here: complete only if `\x` or `\uXXXX` is whole
            tail = text[backslash + 1 :]
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
