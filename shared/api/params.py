"""Parameter definitions that both validate requests and describe them in the OpenAPI document.

One definition per parameter: the document cannot drift from what the code accepts. Nothing from a request
reaches SQL except through these parsers and bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from ..formats.values import EventError, parse_time
from .http import BadParameter


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
        if len(raw) > 256:
            raise BadParameter(self.name, "is longer than 256 characters")
        return raw

    def _parse_int(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise BadParameter(self.name, f"must be a whole number, got {raw[:40]!r}") from None
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise BadParameter(self.name, f"must be between {self.minimum} and {self.maximum}, got {value}")
        return value

    def _parse_time(self, raw: str) -> datetime:
        try:
            moment = parse_time(raw, field=self.name)
        except EventError:
            raise BadParameter(self.name, f"must be an ISO-8601 time such as 2026-11-01T00:00:00Z, got {raw[:40]!r}") from None
        return moment.astimezone(timezone.utc)

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
            schema: dict[str, Any] = {"type": "string", "format": "date-time"}
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
            schema = {"type": "string", "maxLength": 256}
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


def parse_params(params: tuple[Param, ...], query: Mapping[str, list[str]], route: Mapping[str, str]) -> dict[str, Any]:
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
