"""The OpenAPI 3.1 document of the usage API, generated from the route table.

Paths, methods, parameters (each `Param` describes itself), bodies, responses and security come from the
same `Route` objects `handle` serves, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from shared.api.routes import ROUTES, Route

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "parameter": {"type": "string", "description": "the parameter a 400 is about"},
    },
    "required": ["type", "title", "status", "detail"],
}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "an Entra ID access token for the API (LEDGER_AUTH=jwt); roles from its `roles` claim",
    },
    "easyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "X-MS-CLIENT-PRINCIPAL",
        "description": "set by App Service Authentication in front of the app (LEDGER_AUTH=easyauth)",
    },
}
_ERRORS = {
    "400": "a parameter or the body is not valid, or a query parameter is unknown (`parameter` names it)",
    "401": "no identity, or one that cannot be trusted",
    "403": "the identity lacks the role",
    "404": "no such item",
    "503": "the store stayed locked past the write's budget (`LEDGER_API_WRITE_WAIT_SECONDS`); nothing was written, "
    "retry after `Retry-After` seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def operation(route: Route) -> dict[str, Any]:
    """The OpenAPI operation object of one route."""
    responses = dict(route.responses)
    errors = ["400"]  # every route refuses a query parameter it does not know
    if route.roles is not None:
        errors += ["401", "403"]
    if "{" in route.path:
        errors.append("404")
    if route.method != "GET":
        errors.append("503")
    for status in errors:
        responses.setdefault(status, _problem(_ERRORS[status]))
    if "503" in errors:
        responses["503"] = {**responses["503"], "headers": _RETRY_AFTER}
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "parameters": [param.openapi() for param in route.params],
        "responses": responses,
        "security": [{"bearer": []}, {"easyAuth": []}] if route.roles is not None else [],
    }
    if route.roles is not None:
        op["description"] = f"Roles: any of {', '.join(route.roles)} (Ledger.Admin may do everything)."
        op["x-roles"] = list(route.roles)
    if route.request_body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.request_body}}}
    tags = _tag(route.path)
    if tags:
        op["tags"] = tags
    return op


def _tag(path: str) -> list[str]:
    first = re.split(r"[/{]", path, maxsplit=1)[0]
    return [first] if first else []


def openapi_document(routes: Iterable[Route] | None = None, *, server_url: str = "/") -> dict[str, Any]:
    """The whole document; `routes` defaults to every registered route."""
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes if routes is not None else ROUTES.values(), key=lambda r: (r.path, r.method)):
        paths.setdefault(f"/api/{route.path}", {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aoai-ledger usage API",
            "version": "1",
            "description": "Usage, audit and administration of the Azure OpenAI call ledger. Times are ISO-8601 "
            "UTC; ranges are half-open [from, to); errors are application/problem+json.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM_SCHEMA}, "securitySchemes": SECURITY_SCHEMES},
    }
