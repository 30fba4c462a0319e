"""Lenient readers for the values gateways and clients actually send: numbers as strings, odd time formats,
any case, null or the wrong type. None of them raises (except `parse_time`, for a call's own time): one odd
field must never cost the whole record.

Signed or not is in the name: `as_int`/`as_float` keep a number's sign (a status, a duration the gateway
logged); `as_count`/`as_amount` read quantities (tokens, seconds of audio), never below zero.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

_BOM = "\ufeff"


class EventError(ValueError):
    """An event that cannot become a call; the message is the dead letter's reason, for a person to read."""


def as_int(value: Any) -> int | None:
    """An int, sign kept, from an int, float or numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_count(value: Any) -> int:
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
            return as_count(float(value.strip()))
        except ValueError:
            return 0
    return 0


def as_float(value: Any) -> float | None:
    """A float, sign kept, from a number or numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_amount(value: Any) -> float | None:
    """A non-negative finite float from a number or numeric string; None otherwise."""
    number = as_float(value)
    return number if number is not None and 0 <= number < math.inf else None


def has_number(value: Any) -> bool:
    """True when the value reads as a number, so a present-but-zero count is told apart from a missing one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and as_amount(value) is not None


def as_str(value: Any) -> str | None:
    """A non-empty string, or a number as text; None otherwise (empty ids and models, as in Azure's first
    stream chunk, mean 'unknown'; an object is no name)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def any_as_str(value: Any) -> str | None:
    """Any value as non-empty text (`str()` of it), or None: event fields a gateway may send as any type."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty dict (so `.get` chains never fail)."""
    return value if isinstance(value, dict) else {}


def as_text(body: Any) -> str | None:
    """The body as text (bytes decoded as UTF-8, bad bytes replaced); None for anything else."""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body).decode("utf-8", "replace")
    return None


def as_text_body(value: Any) -> str | None:
    """Bodies travel as raw text; a policy that sent parsed JSON still gets its body kept as text."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


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


def lower_keys(headers: Any) -> dict[str, str]:
    """Header names in any case, values as text; APIM may also send a list of "name: value" strings."""
    if isinstance(headers, dict):
        return {str(k).lower(): str(v) for k, v in headers.items()}
    if isinstance(headers, list):
        found = {}
        for item in headers:
            if isinstance(item, str) and ":" in item:
                name, _, value = item.partition(":")
                found[name.strip().lower()] = value.strip()
        return found
    return {}


_DOTNET_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",  # en-US DateTime.ToString(): the sample policy's `DateTime.UtcNow.ToString()`
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",  # en-GB and most European cultures
    "%d.%m.%Y %H:%M:%S",  # de-DE
    "%Y-%m-%d %H:%M:%S",
)


def parse_time(value: Any, *, field: str = "time") -> datetime:
    """An aware UTC datetime from ISO-8601 or .NET's default DateTime text; naive times are UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    if not isinstance(value, str) or not value.strip():
        raise EventError(f"'{field}' is missing or not a time")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith(("Z", "z")) else text)
    except ValueError:
        parsed = _parse_dotnet(text, field)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_dotnet(text: str, field: str) -> datetime:
    for fmt in _DOTNET_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise EventError(f"'{field}' is not a time we can read: {text[:40]!r}")
