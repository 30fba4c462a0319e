"""`GET /api/openapi.json`: the OpenAPI 3.1 document of every registered route (no role needed)."""

from __future__ import annotations

from typing import Any

from shared.api.auth import Caller
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.openapi import openapi_document
from shared.api.routes import ApiContext, Route, register


def _openapi(
    _context: ApiContext, _request: ApiRequest, _caller: Caller | None, _values: dict[str, Any]
) -> ApiResponse:
    # Built per request, not cached: routes registered later (other modules) appear without a restart.
    return json_response(openapi_document())


register(
    Route(
        name="openapi",
        method="GET",
        path="openapi.json",
        roles=None,
        params=(),
        handler=_openapi,
        summary="This document: the OpenAPI 3.1 description of the usage API",
        uses_store=False,
        responses={
            "200": {
                "description": "the OpenAPI document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
)
