"""Non-streamed chat completions and legacy completions responses.

Choice 0 is the completion text of the record; the other choices (n > 1) are kept aside only so that an
estimate, when the body has no usage, counts every generated choice as Azure bills it.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.content import content_text
from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_dict, as_str


def read_chat_response(draft: Draft, body: Any) -> None:
    """Fill model, text, tool calls, finish reason, filter verdicts and usage from a chat/completions body."""
    if not isinstance(body, dict):
        return
    facts = draft.facts
    facts.response_model = as_str(body.get("model"))
    draft.filters.add_prompt_results(body.get("prompt_filter_results") or body.get("prompt_annotations"))
    choices = body.get("choices")
    if isinstance(choices, list):
        for position, choice in enumerate(choices):
            if isinstance(choice, dict):
                _read_choice(draft, choice, position)
    facts.usage = usage_from(body.get("usage"))


def _read_choice(draft: Draft, choice: dict[str, Any], position: int) -> None:
    facts = draft.facts
    index = choice.get("index", position)
    if not isinstance(index, int) or isinstance(index, bool):
        index = position
    finish = as_str(choice.get("finish_reason"))
    if finish == "content_filter":
        facts.content_filtered = True
    draft.filters.add_completion_results(index, choice.get("content_filter_results"))
    message = as_dict(choice.get("message"))
    text = message_text(message) if message else None
    if text is None:
        text = as_str(choice.get("text"))  # legacy completions
    tool_calls = _tool_calls(message)
    if index != 0:
        if text:
            draft.other_choices.append(text)
        return
    facts.completion_text = text
    facts.finish_reason = finish
    if tool_calls:
        facts.tool_calls = tool_calls


def message_text(message: dict[str, Any]) -> str | None:
    """An assistant message's text: its content, else its refusal, else an audio transcript."""
    text = content_text(message.get("content"))
    if text is not None:
        return text
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        return refusal
    transcript = as_dict(message.get("audio")).get("transcript")
    return transcript if isinstance(transcript, str) else None


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    """`tool_calls` as sent, plus the legacy single `function_call` in the same shape."""
    calls = message.get("tool_calls")
    result = [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []
    function_call = message.get("function_call")
    if isinstance(function_call, dict):
        result.append({"type": "function", "function": function_call})
    return result or None
