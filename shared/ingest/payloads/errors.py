"""Error bodies: Azure OpenAI's `{"error": {...}}`, and APIM's own `{"statusCode": 429, "message": ...}`.

A prompt blocked by the content filter comes back as HTTP 400 with code `content_filter` and the verdicts
in `innererror` (`inner_error` for images); it counts as content-filtered, and its verdicts are kept.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.draft import Draft
from shared.ingest.values import as_dict, as_str

_FILTER_CODES = frozenset(
    ("content_filter", "content_policy_violation", "contentfilter", "responsibleaipolicyviolation")
)


def read_error(draft: Draft, body: Any) -> bool:
    """Record an error body's code and message; True when the body was an error (nothing was generated)."""
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if isinstance(error, dict):
        _read_error_object(draft, error)
        return True
    if isinstance(error, str) and error and "choices" not in body:
        draft.facts.error_message = error
        draft.is_error = True
        return True
    if "statusCode" in body and "choices" not in body and "data" not in body:
        draft.facts.error_code = as_str(body.get("statusCode"))
        draft.facts.error_message = as_str(body.get("message"))
        draft.is_error = True
        return True
    return False


def _read_error_object(draft: Draft, error: dict[str, Any]) -> None:
    """`code`, `message` and, for content-filter errors, the verdicts in `innererror`/`inner_error`."""
    facts = draft.facts
    draft.is_error = True
    facts.error_code = as_str(error.get("code")) or as_str(error.get("type")) or facts.error_code
    facts.error_message = as_str(error.get("message")) or facts.error_message
    inner = as_dict(error.get("innererror") or error.get("inner_error"))
    codes = (facts.error_code, as_str(inner.get("code")))
    if any(code is not None and code.lower() in _FILTER_CODES for code in codes):
        facts.content_filtered = True
    results = inner.get("content_filter_results")
    if isinstance(results, dict):
        draft.filters.add_prompt_results([{"prompt_index": 0, "content_filter_results": results}])
        if facts.content_filtered is False and any(
            isinstance(v, dict) and v.get("filtered") is True for v in results.values()
        ):
            facts.content_filtered = True
