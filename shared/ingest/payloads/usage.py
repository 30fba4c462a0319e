"""Token usage as the APIs report it, in any of their spellings."""

from __future__ import annotations

from typing import Any

from shared.ingest.values import as_count, has_number
from shared.store.records import TokenUsage


def _count(value: Any) -> int | None:
    """A token count, or None when absent or not a number (ints, the common case, go first)."""
    if type(value) is int:
        return value if value > 0 else 0
    if value is None or not has_number(value):
        return None
    return as_count(value)


def usage_from(raw: Any) -> TokenUsage | None:
    """Read any usage object (chat `prompt_tokens`, Responses/images `input_tokens`) into a TokenUsage."""
    if not isinstance(raw, dict):
        return None
    get = raw.get
    prompt = _count(get("prompt_tokens", get("input_tokens")))
    completion = _count(get("completion_tokens", get("output_tokens")))
    total = _count(get("total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    prompt_details = get("prompt_tokens_details") or get("input_tokens_details")
    completion_details = get("completion_tokens_details") or get("output_tokens_details")
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        cached_tokens=as_count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0,
        reasoning_tokens=as_count(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else 0,
    )
