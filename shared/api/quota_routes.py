"""`GET /api/quotas`, `PUT /api/quotas/{scopeType}/{scopeId}`, `DELETE /api/quotas/{scopeType}/{scopeId}`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.alerts.quotas import (
    PERIODS,
    SCOPE_TYPES,
    QuotaError,
    delete_quota,
    get_quota,
    list_quotas,
    put_quota,
    quota_from_json,
    quota_status,
    unseen_scope_warning,
)
from shared.api.access import access_by
from shared.api.auth import LEDGER_ADMIN, USAGE_READ_ALL, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, json_response
from shared.api.params import Param
from shared.api.routes import ApiContext, Route, register
from shared.api.usage_routes import TEAMS_VERSION_SCHEMA, check_team_keys, teams_version
from shared.reports.access_log import record_access

SCOPE_PARAMS = (
    Param("scopeType", "enum", "what the quota limits", location="path", enum=SCOPE_TYPES, required=True),
    Param(
        "scopeId",
        "string",
        "the id of the subscription, user, app, product or model, as /api/usage shows it; for a team, its name "
        "in LEDGER_TEAMS_FILE",
        location="path",
        required=True,
    ),
)
QUOTA_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "period": {"type": "string", "enum": list(PERIODS)},
        "limitTokens": {"type": ["integer", "null"], "minimum": 1},
        "limitCostUsd": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "thresholds": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 1000}, "maxItems": 10},
        "notify": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 50},
    },
    "required": ["period"],
    "additionalProperties": False,
}
STATUS_SCHEMA = {
    "type": "object",
    "properties": {
        "periodStart": {"type": "string", "format": "date-time"},
        "periodEnd": {"type": "string", "format": "date-time"},
        "usedTokens": {"type": "integer"},
        "usedCostUsd": {"type": ["number", "null"]},
        "percent": {"type": "number"},
        "forecastPercent": {"type": ["number", "null"]},
        "forecastFullAt": {"type": ["string", "null"], "format": "date-time"},
        "crossed": {"type": "array", "items": {"type": "integer"}},
    },
}
QUOTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scopeType": {"type": "string", "enum": list(SCOPE_TYPES)},
        "scopeId": {"type": "string"},
        **QUOTA_BODY["properties"],
        "status": STATUS_SCHEMA,
    },
    "required": ["scopeType", "scopeId", "period", "status"],
}


def _item(context: ApiContext, conn: Any, quota: Any, now: datetime) -> dict[str, Any]:
    status = quota_status(conn, quota, now, context.settings.timezone, context.teams)
    return quota.as_json() | {"status": status.as_json()}


def _list(context: ApiContext, _request: ApiRequest, _caller: Caller | None, _values: dict[str, Any]) -> ApiResponse:
    now = datetime.now(UTC)
    with context.store.read() as conn:
        items = [_item(context, conn, quota, now) for quota in list_quotas(conn)]
    return json_response({"items": items, "teamsVersion": teams_version(context)})


def _put(context: ApiContext, request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "Bad request body", "body: must be JSON", parameter="body") from None
    try:
        quota = quota_from_json(body, values["scopeType"], values["scopeId"])
    except QuotaError as exc:
        raise ApiError(400, "Bad request body", str(exc), parameter=exc.field) from None
    if quota.scope_type == "team":  # a team the file does not have would never count a call
        check_team_keys(context.teams, (), {"team": quota.scope_id}, parameter="scopeId")
    with context.store.write(lock_wait=context.settings.api_write_wait_seconds) as conn:
        created = get_quota(conn, quota.scope_type, quota.scope_id) is None
        put_quota(conn, quota)
        record_access(conn, access_by(caller, request, "quota_put", f"{quota.scope_type}/{quota.scope_id}", body))
    with context.store.read() as conn:
        item = _item(context, conn, quota, datetime.now(UTC))
        warning = unseen_scope_warning(conn, quota)
    return json_response(item | ({"warning": warning} if warning else {}), status=201 if created else 200)


def _delete(context: ApiContext, request: ApiRequest, caller: Caller | None, values: dict[str, Any]) -> ApiResponse:
    with context.store.write(lock_wait=context.settings.api_write_wait_seconds) as conn:
        if not delete_quota(conn, values["scopeType"], values["scopeId"]):
            raise ApiError(404, "Not Found", f"no quota for {values['scopeType']} {values['scopeId']}")
        record_access(conn, access_by(caller, request, "quota_delete", f"{values['scopeType']}/{values['scopeId']}"))
    return ApiResponse(204, b"", "application/json")


_QUOTA_RESPONSE = {
    "application/json": {
        "schema": QUOTA_SCHEMA
        | {
            "properties": QUOTA_SCHEMA["properties"]
            | {
                "warning": {
                    "type": "string",
                    "description": "present when no call of this scope was ever recorded: "
                    "the quota is kept, but check the id",
                }
            }
        }
    }
}
register(
    Route(
        name="quotas",
        method="GET",
        path="quotas",
        roles=(USAGE_READ_ALL,),
        params=(),
        handler=_list,
        summary="Every quota with its current period's status and forecast",
        responses={
            "200": {
                "description": "quotas",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": QUOTA_SCHEMA},
                                "teamsVersion": TEAMS_VERSION_SCHEMA,
                            },
                            "required": ["items", "teamsVersion"],
                        }
                    }
                },
            }
        },
    )
)
register(
    Route(
        name="quota_put",
        method="PUT",
        path="quotas/{scopeType}/{scopeId}",
        roles=(LEDGER_ADMIN,),
        params=SCOPE_PARAMS,
        handler=_put,
        summary="Create or replace the quota of a scope",
        request_body=QUOTA_BODY,
        responses={
            "200": {"description": "replaced", "content": _QUOTA_RESPONSE},
            "201": {"description": "created", "content": _QUOTA_RESPONSE},
        },
    )
)
register(
    Route(
        name="quota_delete",
        method="DELETE",
        path="quotas/{scopeType}/{scopeId}",
        roles=(LEDGER_ADMIN,),
        params=SCOPE_PARAMS,
        handler=_delete,
        summary="Delete the quota of a scope",
        responses={"204": {"description": "deleted"}},
    )
)
