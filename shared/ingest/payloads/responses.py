"""Responses API bodies: the `response` object and its typed event stream.

The stream's terminal event (`response.completed`, `.failed` or `.incomplete`) repeats the whole
response with its usage, so it is read like a JSON body; the text deltas only matter when the stream was
cut before that event. The record's finish reason is the incomplete reason when there is one (e.g.
`max_output_tokens`, `content_filter`), else the response status.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.content import content_text
from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.sse import iter_json_events
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_dict, as_str

_TERMINAL = frozenset(("response.completed", "response.failed", "response.incomplete"))


def read_response_object(draft: Draft, body: Any) -> None:
    """Fill model, output text, function calls, status, error and usage from a Responses `response`."""
    if not isinstance(body, dict):
        return
    facts = draft.facts
    facts.response_model = as_str(body.get("model")) or facts.response_model
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    output = body.get("output")
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict):
            _read_output_item(item, texts, calls)
    if texts:
        facts.completion_text = "".join(texts)
    if calls:
        facts.tool_calls = calls
    _read_status(draft, body)
    usage = usage_from(body.get("usage"))
    if usage is not None:
        facts.usage = usage


def _read_output_item(item: dict[str, Any], texts: list[str], calls: list[dict[str, Any]]) -> None:
    """Message items give text; function calls are kept in the chat `tool_calls` shape."""
    kind = item.get("type")
    if kind == "message" or (kind is None and "content" in item):
        text = content_text(item.get("content"))
        if text:
            texts.append(text)
    elif kind == "function_call":
        arguments = item.get("arguments")
        calls.append(
            {
                "id": as_str(item.get("call_id")) or as_str(item.get("id")),
                "type": "function",
                "function": {
                    "name": as_str(item.get("name")),
                    "arguments": arguments if isinstance(arguments, str) else "",
                },
            }
        )


def _read_status(draft: Draft, body: dict[str, Any]) -> None:
    facts = draft.facts
    status = as_str(body.get("status"))
    reason = as_str(as_dict(body.get("incomplete_details")).get("reason"))
    if status not in (None, "in_progress", "queued"):  # a cut stream's last word is not a finish reason
        facts.finish_reason = reason or status
    if reason == "content_filter":
        facts.content_filtered = True
    error = body.get("error")
    if isinstance(error, dict) and error:
        facts.error_code = as_str(error.get("code"))
        facts.error_message = as_str(error.get("message"))
        if status == "failed" and facts.usage is None:
            draft.is_error = True


def read_response_stream(draft: Draft, text: str) -> None:
    """Fill the draft from a Responses event stream; complete only when a terminal event arrived."""
    facts = draft.facts
    facts.streamed = True
    facts.stream_complete = False
    deltas: dict[Any, list[str]] = {}
    arguments: dict[Any, list[str]] = {}
    for event, data in iter_json_events(text):
        if not isinstance(data, dict):
            continue
        kind = data.get("type") or event
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            _append(deltas, data.get("output_index"), data.get("delta"))
        elif kind == "response.function_call_arguments.delta":
            _append(arguments, data.get("output_index"), data.get("delta"))
        elif kind == "error":
            facts.error_code = as_str(data.get("code")) or facts.error_code
            facts.error_message = as_str(data.get("message")) or facts.error_message
        elif isinstance(data.get("response"), dict):
            read_response_object(draft, data["response"])
            if kind in _TERMINAL:
                facts.stream_complete = True
    if facts.completion_text is None and deltas:
        facts.completion_text = "".join("".join(parts) for _, parts in sorted(deltas.items(), key=_order))
    if facts.tool_calls is None and arguments:
        facts.tool_calls = [
            {"id": None, "type": "function", "function": {"name": None, "arguments": "".join(p)}}
            for _, p in sorted(arguments.items(), key=_order)
        ]


def _append(target: dict[Any, list[str]], key: Any, delta: Any) -> None:
    if isinstance(delta, str):
        target.setdefault(key if isinstance(key, int) else 0, []).append(delta)


def _order(entry: tuple[Any, list[str]]) -> int:
    return entry[0] if isinstance(entry[0], int) else 0
