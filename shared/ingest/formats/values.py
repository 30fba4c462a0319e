"""Lenient readers for the values gateways actually send: numbers as strings, odd time formats, any case."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import orjson


class EventError(ValueError):
    """An event that cannot become a call; the message is the dead letter's reason, for a person to read."""


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def as_text_body(value: Any) -> str | None:
    """Bodies travel as raw text; a policy that sent parsed JSON still gets its body kept as text."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


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
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise EventError(f"'{field}' is missing or not a time")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith(("Z", "z")) else text)
    except ValueError:
        parsed = _parse_dotnet(text, field)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _parse_dotnet(text: str, field: str) -> datetime:
    for fmt in _DOTNET_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise EventError(f"'{field}' is not a time we can read: {text[:40]!r}")
