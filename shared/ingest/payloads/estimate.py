"""Token estimates for calls whose bodies carry no usage: counted with the model's tokenizer, flagged.

Nothing is estimated for error bodies (nothing was generated or billed) or for operations billed
elsewhere (Assistants messages, images); and nothing when no text was captured, so that a missing body
reads as "unknown" (usage None), never as a made-up zero.
"""

from __future__ import annotations

from shared.ingest import tokens
from shared.ingest.payloads.draft import Draft
from shared.store.records import TokenUsage


def estimate_usage(draft: Draft, model: str | None) -> None:
    """Set `usage` (estimated=True) from the captured texts when the bodies reported none."""
    facts = draft.facts
    if facts.usage is not None or draft.is_error or not draft.estimable:
        return
    prompt = _prompt_tokens(draft, model)
    completion = _completion_tokens(draft, model)
    if prompt == 0 and completion == 0:
        return
    facts.usage = TokenUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, estimated=True
    )


def _prompt_tokens(draft: Draft, model: str | None) -> int:
    """Chat messages with their framing (and the tool definitions the model reads), else the prompt text."""
    if draft.messages:
        count = tokens.count_chat_prompt(draft.messages, model)
        if draft.tools:
            count += tokens.count_json(draft.tools, model)
    else:
        count = tokens.count_tokens(draft.facts.prompt_text, model)
    return count + draft.prompt_token_ids


def _completion_tokens(draft: Draft, model: str | None) -> int:
    """Every generated choice: its text, and its tool calls' names and arguments."""
    facts = draft.facts
    count = tokens.count_tokens(facts.completion_text, model)
    count += tokens.count_tool_calls(facts.tool_calls, model)
    for text in draft.other_choices:
        count += tokens.count_tokens(text, model)
    return count
