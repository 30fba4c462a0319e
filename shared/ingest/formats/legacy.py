"""The two-event format of the public openai-python-enterprise-logging sample's advanced logging policy.

A `Request` event (inbound) and a `Response` event (outbound) per call, joined by `message-id`, in either
order and often in different batches. Token counts arrive as strings and `event-time` in .NET's default
DateTime text. The pair is rebuilt into bodies the shared payload parser understands, so both formats
derive model, text and tokens the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from shared.ingest.formats.capture import apply_usage
from shared.ingest.operations import canonical_operation
from shared.ingest.payloads import parse_payloads
from shared.ingest.values import EventError, any_as_str, as_int, parse_time
from shared.store.records import CallRecord, TokenUsage

KIND = "legacy"
SOURCE = "legacy-sample"
REQUEST, RESPONSE = "request", "response"


def is_legacy(doc: Any) -> bool:
    return isinstance(doc, dict) and "event-type" in doc and "message-id" in doc


def legacy_part(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(message id, which half) of one event, or an EventError naming what is wrong."""
    message_id = any_as_str(doc.get("message-id"))
    if not message_id:
        raise EventError("legacy sample event without 'message-id'")
    kind = str(doc.get("event-type") or "").strip().lower()
    if kind not in (REQUEST, RESPONSE):
        raise EventError(f"legacy sample event with unknown event-type {doc.get('event-type')!r}")
    parse_time(doc.get("event-time"), field="event-time")  # fail now, not when the partner arrives
    return message_id, kind


def _embedded_json(value: Any) -> Any:
    """The sample stringifies `messages` and `choices` with JToken.ToString(); parse them back."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _request_body(request: Mapping[str, Any]) -> bytes | None:
    body: dict[str, Any] = {}
    if request.get("model"):
        body["model"] = request["model"]
    for name in ("messages", "prompt"):
        if request.get(name) not in (None, ""):
            body[name] = _embedded_json(request[name])
    return orjson.dumps(body) if body else None


def _response_body(response: Mapping[str, Any]) -> bytes | None:
    usage = {
        name: as_int(response.get(name))
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
        if as_int(response.get(name)) is not None
    }
    body: dict[str, Any] = {}
    if response.get("model"):
        body["model"] = response["model"]
    if response.get("choices") not in (None, ""):
        body["choices"] = _embedded_json(response["choices"])
    if usage:
        body["usage"] = usage
    return orjson.dumps(body) if body else None


def legacy_record(
    message_id: str, request: Mapping[str, Any] | None, response: Mapping[str, Any] | None
) -> tuple[CallRecord, TokenUsage | None]:
    """The call of a joined pair; with one half missing (the join window passed) what that half knew."""
    first = request or response or {}
    operation_id = any_as_str((response or {}).get("operation")) or any_as_str(first.get("operation"))
    operation = canonical_operation(operation_id, None)
    facts = parse_payloads(
        operation,
        _request_body(request) if request else None,
        _response_body(response) if response else None,
        "application/json",
        None,
    )
    time = parse_time(first.get("event-time"), field="event-time")
    backend = any_as_str(first.get("backend"))
    # The sample logs Response in outbound only, so a response means the backend answered; it carries no
    # status code. A request whose response never came is counted as failed (status 0).
    record = CallRecord(
        call_id=message_id,
        time=time,
        source=SOURCE,
        operation=operation,
        api_operation_id=operation_id,
        deployment=None,
        model=facts.response_model or facts.request_model,
        product_id=any_as_str((response or {}).get("productId")),
        backend_id=backend,
        backend_url=f"https://{backend}" if backend and "://" not in backend else backend,
        status=200 if response else 0,
        backend_ms=_as_ms((response or {}).get("modeltime")),
        finish_reason=facts.finish_reason,
        content_filtered=facts.content_filtered,
        request_params=facts.params or None,
        prompt_text=facts.prompt_text,
        completion_text=facts.completion_text,
        tool_calls=facts.tool_calls,
        content_filter=facts.content_filter,
    )
    if response and request:
        response_time = parse_time(response.get("event-time"), field="event-time")
        record.duration_ms = max(0.0, (response_time - time).total_seconds() * 1000)
    if facts.usage is not None:
        apply_usage(record, facts.usage)
    return record, facts.usage


def _as_ms(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
