"""Parameter definitions that both validate requests and describe them in the OpenAPI document.

One definition per parameter: the document cannot drift from what the code accepts. Nothing from a request
reaches SQL except through these parsers and bound parameters.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.api.http import BadParameter

# Times the API accepts: wide enough for "everything" (the ledger holds nothing before 2000), narrow enough that
# no range arithmetic (defaults, bucket edges, a UTC offset) can leave the years datetime and every store hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_STRING = 256
MAX_ID = (
    2**31 - 1
)  # the largest id the cursors' keys hold on every store (INTEGER: int4 on PostgreSQL, int on SQL Server)
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII digits only: int() also reads "\u0663" and "1_000"
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9:.,]+)?([Zz]|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?)?)?"
)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "time" | "int" | "string" | "enum" | "enum-list"
    description: str
    location: str = "query"  # or "path"
    enum: tuple[str, ...] = ()
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    required: bool = False

    def parse(self, raw: str | None) -> Any:
        if raw is None or raw == "":
            if self.required:
                raise BadParameter(self.name, "is required")
            return self.default
        parser = getattr(self, f"_parse_{self.kind.replace('-', '_')}")
        return parser(raw)

    def _parse_string(self, raw: str) -> str:
        return bounded_text(self.name, raw)

    def _parse_int(self, raw: str) -> int:
        if not _INTEGER.fullmatch(raw):
            raise BadParameter(self.name, f"must be a whole number, got {raw[:40]!r}")
        value = int(raw)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise BadParameter(self.name, f"must be between {self.minimum} and {self.maximum}, got {raw[:40]}")
        return value

    def _parse_time(self, raw: str) -> datetime:
        return api_time(self.name, raw)

    def _parse_enum(self, raw: str) -> str:
        if raw not in self.enum:
            raise BadParameter(self.name, f"must be one of {', '.join(self.enum)}, got {raw[:40]!r}")
        return raw

    def _parse_enum_list(self, raw: str) -> tuple[str, ...]:
        items = tuple(part.strip() for part in raw.split(",") if part.strip())
        unknown = [item for item in items if item not in self.enum]
        if unknown:
            raise BadParameter(self.name, f"unknown key {unknown[0][:40]!r}; use any of {', '.join(self.enum)}")
        if len(set(items)) != len(items):
            raise BadParameter(self.name, "names a key twice")
        if self.max_items is not None and len(items) > self.max_items:
            raise BadParameter(self.name, f"takes at most {self.max_items} keys, got {len(items)}")
        return items

    def schema(self) -> dict[str, Any]:
        if self.kind == "time":
            schema: dict[str, Any] = {
                "type": "string",
                "format": "date-time",
                "description": f"between {_iso(EARLIEST)} and {_iso(LATEST)}",
            }
        elif self.kind == "int":
            schema = {"type": "integer"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "enum":
            schema = {"type": "string", "enum": list(self.enum)}
        elif self.kind == "enum-list":
            # Sent comma-separated; described as a pattern so generated clients send it that way.
            alternatives = "|".join(self.enum)
            limit = (self.max_items or 99) - 1
            schema = {"type": "string", "pattern": f"^({alternatives})(,({alternatives})){{0,{limit}}}$"}
        else:
            schema = {"type": "string", "maxLength": MAX_STRING}
        if self.default is not None and not isinstance(self.default, (tuple, datetime)):
            schema["default"] = self.default
        return schema

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "description": self.description,
            "schema": self.schema(),
        }


# The Functions host reads a function key from `code` itself (https://learn.microsoft.com/azure/azure-functions/function-keys-how-to);
# a caller sending one by habit to these anonymous routes is not asking for a different report.
HOST_PARAMETERS = frozenset({"code"})


def parse_params(params: tuple[Param, ...], query: Mapping[str, list[str]], route: Mapping[str, str]) -> dict[str, Any]:
    """The route's parameter values; a query parameter the route does not know is a 400 naming the valid ones,
    not a silently different answer (`group_by=user` must not return ungrouped totals)."""
    known = [param.name for param in params if param.location != "path"]
    for name in query:
        if name not in known and name not in HOST_PARAMETERS:
            shown = name if len(name) <= 60 else name[:60] + "..."
            close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.6)
            hint = f"did you mean {next(k for k in known if k.lower() == close[0])}? " if close else ""
            valid = f"valid: {', '.join(known)}" if known else "this route takes no query parameters"
            raise BadParameter(shown, f"is not a parameter of this route; {hint}{valid}")
    values: dict[str, Any] = {}
    for param in params:
        if param.location == "path":
            raw = route.get(param.name)
        else:
            given = query.get(param.name) or []
            if len(given) > 1:
                raise BadParameter(param.name, "is given more than once")
            raw = given[0] if given else None
        values[param.name] = param.parse(raw)
    return values


def bounded_text(name: str, raw: str) -> str:
    """Text a store can compare: at most MAX_STRING characters, no NUL (PostgreSQL and Azure SQL refuse it),
    nothing UTF-8 cannot carry (a lone surrogate)."""
    if len(raw) > MAX_STRING:
        raise BadParameter(name, f"is longer than {MAX_STRING} characters")
    if "\x00" in raw or not _encodable(raw):
        raise BadParameter(name, "holds a character no stored value can (NUL or a lone surrogate)")
    return raw


def api_time(name: str, raw: str) -> datetime:
    """An ISO-8601 time (naive means UTC) between EARLIEST and LATEST, as aware UTC."""
    example = "must be an ISO-8601 time such as 2026-11-01T00:00:00Z"
    if not _ISO_TIME.fullmatch(raw):
        raise BadParameter(name, f"{example}, got {raw[:40]!r}")
    try:
        moment = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1] in "Zz" else raw)
    except ValueError:  # 2026-02-30, 24:00
        raise BadParameter(name, f"{example}, got {raw[:40]!r}") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if EARLIEST <= moment <= LATEST:
            return moment
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        pass
    raise BadParameter(name, f"must be between {_iso(EARLIEST)} and {_iso(LATEST)}, got {raw[:40]}")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def id_cursor(last_id: int) -> str:
    """The opaque `nextCursor` of a list walked newest first by integer id (dead letters, alerts)."""
    return base64.urlsafe_b64encode(orjson.dumps({"before": last_id})).decode().rstrip("=")


def cursor_id(name: str, text: str) -> int:
    """The id an `id_cursor` carries; anything else (garbage, other JSON, ids no key holds) is a 400."""
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):  # not base64 (or not ASCII), not JSON
        doc = None
    before = doc.get("before") if isinstance(doc, dict) else None
    if isinstance(before, int) and not isinstance(before, bool) and 1 <= before <= MAX_ID:
        return before
    raise BadParameter(name, "is not a cursor this API handed out; start again without one")
