"""Image generation responses: dall-e (priced per image, filter verdicts per image) and gpt-image-1 (tokens).

dall-e-3 on Azure returns no usage at all, so the count of generated images is the usage; gpt-image-1
returns `usage{input_tokens, output_tokens}` and that is used, with the image count beside it.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_str
from shared.store.records import TokenUsage


def read_images_response(draft: Draft, body: Any) -> None:
    """Fill usage (tokens or image count), revised prompt as completion text, and per-image verdicts."""
    if not isinstance(body, dict):
        return
    facts = draft.facts
    facts.response_model = as_str(body.get("model"))
    data = body.get("data")
    images = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
    revised: list[str] = []
    for index, image in enumerate(images):
        if index == 0 or not draft.filters.prompt:
            draft.filters.add_prompt_results(image.get("prompt_filter_results"))
        draft.filters.add_completion_results(index, image.get("content_filter_results"))
        prompt = image.get("revised_prompt")
        if isinstance(prompt, str) and prompt:
            revised.append(prompt)
    if revised:
        facts.completion_text = "\n".join(revised)
    usage = usage_from(body.get("usage"))
    if usage is None and images:
        usage = TokenUsage()
    if usage is not None:
        usage.images = len(images)
    facts.usage = usage
    draft.estimable = False  # images are priced per image or by reported tokens, never by counted text
