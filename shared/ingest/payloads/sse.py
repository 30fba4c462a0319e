"""Server-sent events: split a captured stream body into `(event name, parsed data)` pairs.

Lines are split on "\n" only (not `str.splitlines`), because JSON may carry U+2028 unescaped inside a
string and that must not cut a chunk in two.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from shared.ingest.values import load_json

DONE = object()  # the `data: [DONE]` sentinel that ends chat and completions streams


def looks_like_stream(body: Any, content_type: str | None) -> bool:
    """A body is a stream when declared `text/event-stream`, or when its text opens with an SSE field."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        head = bytes(body[:64]).lstrip()
        if head.startswith((b"{", b"[")):
            return False
        if head.startswith((b"data:", b"event:")):
            return True
    elif isinstance(body, str):
        text_head = body[:64].lstrip()
        if text_head.startswith(("{", "[")):
            return False
        if text_head.startswith(("data:", "event:")):
            return True
    else:
        return False
    return isinstance(content_type, str) and "event-stream" in content_type.lower()


def iter_events(text: str) -> Iterator[tuple[str | None, str]]:
    """Raw events: consecutive `data:` lines joined by "\n", as the SSE spec says; comments ignored."""
    event: str | None = None
    data: list[str] = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            event = line[6:].strip() or None
    if data:
        yield event, "\n".join(data)


def iter_json_events(text: str) -> Iterator[tuple[str | None, Any]]:
    """Parsed events: JSON data, or DONE; data that does not parse alone is retried line by line."""
    for event, data in iter_events(text):
        stripped = data.strip()
        if stripped == "[DONE]":
            yield event, DONE
            continue
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            parsed = None
        if parsed is not None:
            yield event, parsed
        elif "\n" in stripped:  # several chunks without blank lines between them
            for line in stripped.split("\n"):
                line = line.strip()
                if line == "[DONE]":
                    yield event, DONE
                else:
                    parsed = load_json(line)
                    if parsed is not None:
                        yield event, parsed
