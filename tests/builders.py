"""Builders of realistic input events for tests (plain functions, no mocks)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

CHAT_REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise our Q3 travel policy in two sentences."},
    ],
    "temperature": 0.2,
    "max_tokens": 200,
}


def chat_response(
    *,
    model: str = "gpt-4o-2024-08-06",
    prompt: int = 31,
    completion: int = 42,
    cached: int = 0,
    text: str = "Book economy for flights under six hours. Hotels need manager approval above the cap.",
    finish_reason: str = "stop",
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:12],
        "object": "chat.completion",
        "created": 1764234000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": text},
                "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
            }
        ],
        "usage": usage,
        "prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
        ],
    }


def capture_event(
    *,
    call_id: str | None = None,
    time: str = "2026-11-27T09:00:00.123Z",
    operation: str = "ChatCompletions_Create",
    deployment: str = "chat-prod",
    path: str | None = None,
    request: Any = None,
    response: Any = None,
    status: int = 200,
    ip: str = "203.0.113.7",
    user_id: str = "oid-ana",
    subscription_id: str = "sub-marketing",
    total_ms: Any = 812,
    error: Any = None,
    content_type: str = "application/json",
    **extra: Any,
) -> dict[str, Any]:
    request_body = CHAT_REQUEST if request is None else request
    response_body = chat_response() if response is None else response
    event = {
        "schema": "aoai-ledger/capture/v1",
        "id": call_id or str(uuid.uuid4()),
        "time": time,
        "gateway": {"service": "apim-contoso", "region": "East US 2"},
        "api": {"id": "azure-openai", "operation": operation, "version": "2024-10-21"},
        "deployment": deployment,
        "caller": {
            "ip": ip,
            "subscriptionId": subscription_id,
            "subscriptionName": "marketing-assistant",
            "productId": "gold",
            "userId": user_id,
            "userName": "ana@contoso.com",
            "appId": "app-portal",
            "tenantId": "tenant-1",
        },
        "backend": {"id": "aoai-eastus2", "url": "https://contoso-eastus2.openai.azure.com"},
        "request": {
            "method": "POST",
            "path": path or f"/openai/deployments/{deployment}/chat/completions",
            "contentType": "application/json",
            "size": 1234,
            "body": request_body
            if isinstance(request_body, str) or request_body is False
            else orjson.dumps(request_body).decode(),
            "bodyRef": None,
        },
        "response": {
            "status": status,
            "contentType": content_type,
            "size": 2345,
            "headers": {"x-ms-region": "East US 2", "openai-processing-ms": "790.1"},
            "body": response_body if isinstance(response_body, str) else orjson.dumps(response_body).decode(),
            "bodyRef": None,
        },
        "timing": {"totalMs": total_ms, "backendMs": 790},
        "error": error,
    }
    event.update(extra)
    return event


def encode(event: Any) -> bytes:
    return orjson.dumps(event)


def chat_stream_without_usage(text: str, model: str = "gpt-4o-2024-08-06") -> str:
    """A streamed chat answer as SSE: one content chunk, a stop chunk and [DONE], no usage chunk (so the ledger
    estimates the tokens until another source counts them)."""
    chunks = [
        {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None},
        {"index": 0, "delta": {}, "finish_reason": "stop"},
    ]
    events = [
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [choice]}
        for choice in chunks
    ]
    return "".join(f"data: {orjson.dumps(event).decode()}\n\n" for event in events) + "data: [DONE]\n\n"
