"""Framework-free HTTP request/response for the usage API, so handlers are testable without a host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

PROBLEM_TYPE = "about:blank"


@dataclass
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    route_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    peer: str | None = None  # the TCP peer's address, where the host tells it

    @property
    def client_ip(self) -> str | None:
        """Where the caller is: the first X-Forwarded-For hop (App Gateway and APIM append theirs), else the peer."""
        forwarded = next((v for k, v in self.headers.items() if k.lower() == "x-forwarded-for"), "")
        first = forwarded.split(",")[0].strip()
        return first[:64] or self.peer

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass
class ApiResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by handlers and validation; becomes an application/problem+json response."""

    def __init__(
        self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = headers or {}


class BadParameter(ApiError):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(400, "Bad parameter", f"{name}: {detail}", parameter=name)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), "application/json", headers or {})


def problem(error: ApiError) -> ApiResponse:
    payload = {
        "type": PROBLEM_TYPE,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        **error.extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    return ApiResponse(error.status, orjson.dumps(payload), "application/problem+json", headers | error.headers)
