"""The capture/v1 event that the APIM policy in infra/ emits: one event, one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.ingest.operations import canonical_operation, deployment_from_path
from shared.ingest.payloads import parse_payloads
from shared.ingest.values import EventError, any_as_str, as_dict, as_float, as_int, as_text_body, lower_keys, parse_time
from shared.store.records import CallRecord, PayloadFacts, TokenUsage

SCHEMA_PREFIX = "aoai-ledger/capture/"
SOURCE = "capture/v1"


def is_capture(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("schema"), str) and doc["schema"].startswith(SCHEMA_PREFIX)


def require_identity(doc: Mapping[str, Any]) -> str:
    """The contract's required fields; without them the event is dead-lettered with that reason."""
    missing = [name for name in ("schema", "id", "time") if not doc.get(name)]
    if missing:
        raise EventError(f"capture/v1 event without required field(s): {', '.join(missing)}")
    if doc["schema"] != "aoai-ledger/capture/v1":
        raise EventError(f"unsupported capture schema {doc['schema']!r} (this ledger reads aoai-ledger/capture/v1)")
    return str(doc["id"])


def body_refs(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Blob names of claim-checked bodies (`bodyRef`), when the body itself is absent."""
    request, response = as_dict(doc.get("request")), as_dict(doc.get("response"))
    request_ref = any_as_str(request.get("bodyRef")) if not request.get("body") else None
    response_ref = any_as_str(response.get("bodyRef")) if not response.get("body") else None
    return request_ref, response_ref


def capture_record(
    doc: Mapping[str, Any],
    *,
    request_body: str | None = None,
    response_body: str | None = None,
) -> tuple[CallRecord, TokenUsage | None]:
    """The call an event describes, with the usage to price it by. Bodies fetched from a claim check
    are passed in; otherwise the event's own bodies are used."""
    call_id = require_identity(doc)
    api, caller = as_dict(doc.get("api")), as_dict(doc.get("caller"))
    request, response = as_dict(doc.get("request")), as_dict(doc.get("response"))
    gateway, backend, timing = as_dict(doc.get("gateway")), as_dict(doc.get("backend")), as_dict(doc.get("timing"))
    error = as_dict(doc.get("error"))
    headers = lower_keys(response.get("headers"))
    path = any_as_str(request.get("path"))
    operation_id = any_as_str(api.get("operation"))
    operation = canonical_operation(operation_id, path)
    deployment = any_as_str(doc.get("deployment")) or deployment_from_path(path)
    request_text = request_body if request_body is not None else as_text_body(request.get("body"))
    response_text = response_body if response_body is not None else as_text_body(response.get("body"))
    content_type = any_as_str(response.get("contentType")) or headers.get("content-type")
    facts: PayloadFacts = parse_payloads(operation, request_text, response_text, content_type, deployment)
    status = as_int(response.get("status")) if response else None
    usage = facts.usage
    record = CallRecord(
        call_id=call_id,
        time=parse_time(doc.get("time")),
        source=SOURCE,
        operation=operation,
        api_operation_id=operation_id,
        api_version=any_as_str(api.get("version")),
        deployment=deployment,
        model=facts.response_model or facts.request_model or deployment,
        ip=any_as_str(caller.get("ip")),
        subscription_id=any_as_str(caller.get("subscriptionId")),
        subscription_name=any_as_str(caller.get("subscriptionName")),
        product_id=any_as_str(caller.get("productId")),
        user_id=any_as_str(caller.get("userId")),
        user_name=any_as_str(caller.get("userName")),
        app_id=any_as_str(caller.get("appId")),
        end_user=facts.end_user,
        tenant_id=any_as_str(caller.get("tenantId")),
        gateway=any_as_str(gateway.get("service")),
        region=headers.get("x-ms-region") or any_as_str(gateway.get("region")),
        backend_id=any_as_str(backend.get("id")),
        backend_url=any_as_str(backend.get("url")),
        status=status if status is not None else 0,
        duration_ms=as_float(timing.get("totalMs")),
        backend_ms=as_float(timing.get("backendMs")) or as_float(headers.get("openai-processing-ms")),
        streamed=facts.streamed,
        finish_reason=facts.finish_reason,
        content_filtered=facts.content_filtered,
        error_code=facts.error_code or any_as_str(error.get("reason")),
        error_message=facts.error_message or any_as_str(error.get("message")),
        tokens_estimated=bool(usage and usage.estimated),
        stream_incomplete=facts.streamed and not facts.stream_complete,
        request_params=facts.params or None,
        prompt_text=facts.prompt_text,
        completion_text=facts.completion_text,
        tool_calls=facts.tool_calls,
        content_filter=facts.content_filter,
        request_body=request_text,  # masked with every other text where the store writes it
        response_body=response_text,
    )
    if usage is not None:
        apply_usage(record, usage)
    return record, usage


def apply_usage(record: CallRecord, usage: TokenUsage) -> None:
    record.prompt_tokens = usage.prompt_tokens
    record.completion_tokens = usage.completion_tokens
    record.total_tokens = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    record.cached_tokens = usage.cached_tokens
    record.reasoning_tokens = usage.reasoning_tokens
    record.tokens_estimated = usage.estimated
