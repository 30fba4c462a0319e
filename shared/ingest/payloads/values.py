"""Forgiving readers for JSON values: bodies come from many clients and gateways, so nothing is trusted.

Every helper returns a sane default instead of raising, because one odd field must never cost the whole
record. Numbers may arrive as strings ("123"), objects may arrive as null or as the wrong type.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from shared.store.records import TokenUsage

_BOM = "\ufeff"


def load_json(body: Any) -> Any:
    """Parse a body (str, bytes, or an already parsed dict/list) as JSON; None when it is not JSON."""
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        return body
    if isinstance(body, str):
        if body.startswith(_BOM):
            body = body[1:]
    elif isinstance(body, (bytes, bytearray, memoryview)):
        if bytes(body[:3]) == b"\xef\xbb\xbf":
            body = bytes(body[3:])
    else:
        return None
    try:
        return orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None


def as_text(body: Any) -> str | None:
    """The body as text (bytes decoded as UTF-8, bad bytes replaced); None for anything else."""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body).decode("utf-8", "replace")
    return None


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty dict (so `.get` chains never fail)."""
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str | None:
    """A non-empty string, or None: empty ids and models (Azure's first stream chunk) mean 'unknown'."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_int(value: Any) -> int:
    """A non-negative int from an int, float or numeric string; 0 otherwise. An implausibly large count is
    kept as it is (JSON readers give integers beyond 64 bits as floats) for `shared.store.bounds` to refuse."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value > 0 else 0
    if isinstance(value, float):
        return int(value) if 0 < value < math.inf else 0
    if isinstance(value, str):
        try:
            return as_int(float(value.strip()))
        except ValueError:
            return 0
    return 0


def as_float(value: Any) -> float | None:
    """A non-negative finite float from a number or numeric string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < float("inf") else None


def has_number(value: Any) -> bool:
    """True when the value reads as a number, so a present-but-zero count is told apart from a missing one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and as_float(value) is not None


def _count(value: Any) -> int | None:
    """A token count, or None when absent or not a number (ints, the common case, go first)."""
    if type(value) is int:
        return value if value > 0 else 0
    if value is None or not has_number(value):
        return None
    return as_int(value)


def usage_from(raw: Any) -> TokenUsage | None:
    """Read any usage object (chat `prompt_tokens`, Responses/images `input_tokens`) into a TokenUsage."""
    if not isinstance(raw, dict):
        return None
    get = raw.get
    prompt = _count(get("prompt_tokens", get("input_tokens")))
    completion = _count(get("completion_tokens", get("output_tokens")))
    total = _count(get("total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    prompt_details = get("prompt_tokens_details") or get("input_tokens_details")
    completion_details = get("completion_tokens_details") or get("output_tokens_details")
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        cached_tokens=as_int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0,
        reasoning_tokens=as_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict) else 0,
    )


def content_text(content: Any) -> str | None:
    """Plain text of a message `content`: a string, or a list of parts (text kept, media as placeholders)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    pieces: list[str] = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            piece = part_text(part)
            if piece is not None:
                pieces.append(piece)
    return "\n".join(pieces) if pieces else None


_PLACEHOLDERS = {
    "image_url": "[image]",
    "input_image": "[image]",
    "image_file": "[image]",
    "input_audio": "[audio]",
    "file": "[file]",
    "input_file": "[file]",
}


def part_text(part: dict[str, Any]) -> str | None:
    """The text of one content part; chat, Responses and Assistants spell text parts differently."""
    text = part.get("text")
    if isinstance(text, str):
        return text
    if isinstance(text, dict):  # Assistants: {"type": "text", "text": {"value": ...}}
        value = text.get("value")
        return value if isinstance(value, str) else None
    refusal = part.get("refusal")
    if isinstance(refusal, str):
        return refusal
    kind = part.get("type")
    return _PLACEHOLDERS.get(kind) if isinstance(kind, str) else None
