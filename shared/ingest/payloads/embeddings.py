"""Embeddings responses: a list of vectors and `usage{prompt_tokens, total_tokens}`, no completion.

The vectors themselves are the bulk of the body and are never read: only the model and usage matter.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_str


def read_embeddings_response(draft: Draft, body: Any) -> None:
    """Fill model and usage; embeddings generate no completion tokens whatever the body says."""
    if not isinstance(body, dict):
        return
    draft.facts.response_model = as_str(body.get("model"))
    usage = usage_from(body.get("usage"))
    if usage is not None:
        usage.completion_tokens = 0
        usage.total_tokens = max(usage.total_tokens, usage.prompt_tokens)
    draft.facts.usage = usage
