"""Reassembly of chat completions and legacy completions streams into one completion.

Handles what Azure really sends: a first chunk with empty `choices` and only `prompt_filter_results`,
per-chunk `content_filter_results` and late content-filter chunks, the usage chunk (recognised by its
`usage`, never by its empty `choices`), several choices (n > 1), tool calls whose arguments arrive in
fragments keyed by index, and a stream cut before `data: [DONE]` (kept, marked incomplete).
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.errors import read_error
from shared.ingest.payloads.sse import DONE, iter_json_events
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_str


class _Choice:
    """What arrived for one choice index."""

    __slots__ = ("finish", "parts", "refusal", "tools")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.refusal: list[str] = []
        self.finish: str | None = None
        self.tools: dict[int, dict[str, Any]] = {}


def read_chat_stream(draft: Draft, text: str) -> None:
    """Fill the draft from the SSE text of a chat or completions stream."""
    facts = draft.facts
    facts.streamed = True
    choices: dict[int, _Choice] = {}
    done = False
    for _event, chunk in iter_json_events(text):
        if chunk is DONE:
            done = True
        elif isinstance(chunk, dict):
            _read_chunk(draft, chunk, choices)
    facts.stream_complete = done
    _finish(draft, choices)


def read_usage_stream(draft: Draft, text: str) -> None:
    """Any other event stream (e.g. gpt-image-1 partial images): keep the model and the last usage seen."""
    facts = draft.facts
    facts.streamed = True
    facts.stream_complete = False
    for _event, data in iter_json_events(text):
        if data is DONE:
            facts.stream_complete = True
            continue
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        if isinstance(kind, str) and kind.endswith((".completed", ".done")):
            facts.stream_complete = True
        response = data.get("response")
        inner = response if isinstance(response, dict) else data
        facts.response_model = as_str(inner.get("model")) or facts.response_model
        facts.usage = usage_from(inner.get("usage")) or facts.usage


def _read_chunk(draft: Draft, chunk: dict[str, Any], choices: dict[int, _Choice]) -> None:
    facts = draft.facts
    if facts.response_model is None:
        facts.response_model = as_str(chunk.get("model"))
    prompt_results = chunk.get("prompt_filter_results")
    if prompt_results:
        draft.filters.add_prompt_results(prompt_results)
    usage = chunk.get("usage")
    if usage is not None:
        facts.usage = usage_from(usage) or facts.usage
    if isinstance(chunk.get("error"), dict):
        read_error(draft, chunk)
    raw_choices = chunk.get("choices")
    if not isinstance(raw_choices, list):
        return
    for raw in raw_choices:
        if not isinstance(raw, dict):
            continue
        index = raw.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            index = 0
        state = choices.get(index)
        if state is None:
            state = choices[index] = _Choice()
        _read_choice_delta(draft, raw, index, state)


def _read_choice_delta(draft: Draft, raw: dict[str, Any], index: int, state: _Choice) -> None:
    delta = raw.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        if isinstance(content, str):
            state.parts.append(content)
        refusal = delta.get("refusal")
        if isinstance(refusal, str):
            state.refusal.append(refusal)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            _merge_tool_calls(state.tools, tool_calls)
    else:
        text = raw.get("text")  # legacy completions chunk
        if isinstance(text, str):
            state.parts.append(text)
    finish = raw.get("finish_reason")
    if isinstance(finish, str) and finish:
        state.finish = finish
    results = raw.get("content_filter_results")
    if results:
        draft.filters.add_completion_results(index, results)


def _merge_tool_calls(tools: dict[int, dict[str, Any]], fragments: list[Any]) -> None:
    """Fragments of one tool call share its `index`; the id and name come once, arguments in pieces."""
    for fragment in fragments:
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = len(tools) if fragment.get("id") else max(tools, default=0)
        call = tools.get(index)
        if call is None:
            call = tools[index] = {"id": None, "type": "function", "name": None, "args": []}
        if call["id"] is None and isinstance(fragment.get("id"), str) and fragment["id"]:
            call["id"] = fragment["id"]
        if isinstance(fragment.get("type"), str) and fragment["type"]:
            call["type"] = fragment["type"]
        function = fragment.get("function")
        if isinstance(function, dict):
            name = function.get("name")
            if isinstance(name, str) and name and not call["name"]:
                call["name"] = name
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call["args"].append(arguments)


def _finish(draft: Draft, choices: dict[int, _Choice]) -> None:
    """Join what arrived: choice 0 becomes the record's completion, the others only feed the estimate."""
    facts = draft.facts
    for index in sorted(choices):
        state = choices[index]
        text = "".join(state.parts) or "".join(state.refusal) or None
        calls = [
            {
                "id": call["id"],
                "type": call["type"],
                "function": {"name": call["name"], "arguments": "".join(call["args"])},
            }
            for _, call in sorted(state.tools.items())
        ]
        if state.finish == "content_filter":
            facts.content_filtered = True
        if index == 0:
            facts.completion_text = text
            facts.finish_reason = state.finish
            facts.tool_calls = calls or None
            continue
        if text:
            draft.other_choices.append(text)
        for call in calls:
            function = call["function"]
            draft.other_choices.append((function["name"] or "") + function["arguments"])
