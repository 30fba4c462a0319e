"""`GET /api/alerts`: the alerts raised (quota crossings, anomalies, reconcile gaps) and their delivery."""

from __future__ import annotations

from typing import Any

from shared.alerts.delivery import alert_json, list_alerts
from shared.api.auth import USAGE_READ_ALL, Caller
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.params import Param, cursor_id, id_cursor
from shared.api.routes import ApiContext, Route, register

KINDS = ("quota", "spike", "new_ip", "new_app", "error_burst", "filter_burst", "reconcile")
ALERT_PARAMS = (
    Param("kind", "enum", "only alerts of this kind", enum=KINDS),
    Param("limit", "int", "alerts per page", default=100, minimum=1, maximum=1000),
    Param("cursor", "string", "the `nextCursor` of the previous page"),
)
ALERT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "scopeType": {"type": "string"},
        "scopeId": {"type": "string"},
        "occurredAt": {"type": "string", "format": "date-time"},
        "createdAt": {"type": "string", "format": "date-time"},
        "subject": {"type": "string"},
        "summary": {"type": ["string", "null"]},
        "facts": {"type": "object"},
        "links": {"type": "object"},
        "data": {"type": "object"},
        "recipients": {"type": "object", "properties": {"to": {"type": "array"}, "cc": {"type": "array"}}},
        "delivery": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["pending", "sending", "sent", "failed", "off", "no_recipients"]},
                "attempts": {"type": "integer"},
                "sentAt": {"type": ["string", "null"]},
                "lastError": {"type": ["string", "null"]},
                "channels": {
                    "type": "array",
                    "description": "one item per chat webhook (LEDGER_ALERT_WEBHOOKS) the alert is posted to",
                    "items": {
                        "type": "object",
                        "properties": {
                            "channel": {
                                "type": "string",
                                "description": "kind and a digest of the URL, e.g. teams:3f2a9c1d0b7e4a55",
                            },
                            "status": {"type": "string", "enum": ["pending", "sending", "sent", "failed"]},
                            "attempts": {"type": "integer"},
                            "sentAt": {"type": ["string", "null"]},
                            "lastError": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
    },
    "required": ["id", "kind", "scopeType", "scopeId", "createdAt", "subject", "delivery"],
}


def _alerts(context: ApiContext, _request: ApiRequest, _caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    limit = values["limit"]
    with context.store.read() as conn:
        before = cursor_id("cursor", values["cursor"]) if values["cursor"] else None
        rows = list_alerts(conn, limit + 1, before, values["kind"])
    page = rows[:limit]
    next_cursor = id_cursor(page[-1]["id"]) if len(rows) > limit else None
    return json_response({"items": [alert_json(row) for row in page], "nextCursor": next_cursor})


register(
    Route(
        name="alerts",
        method="GET",
        path="alerts",
        roles=(USAGE_READ_ALL,),
        params=ALERT_PARAMS,
        handler=_alerts,
        summary="Alerts raised, newest first, with their delivery state (cursor-paginated)",
        responses={
            "200": {
                "description": "a page of alerts",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": ALERT_SCHEMA},
                                "nextCursor": {"type": ["string", "null"]},
                            },
                            "required": ["items", "nextCursor"],
                        }
                    }
                },
            }
        },
    )
)
