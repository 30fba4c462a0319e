"""Request bodies: the model, the parameters worth keeping, and the prompt as plain text.

One reader serves every JSON operation because they share the bulky fields (`messages`, `prompt`,
`input`, `instructions`); which of them is present says what to do, so no per-operation branching.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.content import content_text, part_text
from shared.ingest.payloads.draft import Draft
from shared.ingest.values import as_dict, as_str

_BULKY = frozenset(
    (
        "messages",
        "prompt",
        "input",
        "instructions",
        "tools",
        "functions",
        "file",
        "additional_messages",
        "content",
        "image",
        "mask",
    )
)


def read_request(draft: Draft, body: Any) -> None:
    """Fill model, params and prompt_text from a parsed JSON request body."""
    if not isinstance(body, dict):
        return
    facts = draft.facts
    facts.request_model = as_str(body.get("model"))
    facts.params = request_params(body)
    facts.end_user = end_user_of(body)
    messages = body.get("messages")
    if isinstance(messages, list):
        draft.messages = messages
        facts.prompt_text = messages_text(messages)
    else:
        facts.prompt_text = _prompt_or_input_text(draft, body)
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        draft.tools = tools
    if body.get("stream") is True or body.get("stream") == "true":
        facts.streamed = True


def end_user_of(body: Any) -> str | None:
    """The end user an app names in its request body: `safety_identifier`, which supersedes `user`
    (https://help.openai.com/en/articles/5428082-how-to-incorporate-a-safety-identifier), else `user`.
    Chat, completions, embeddings and Responses take them; a non-text or blank value names nobody."""
    if not isinstance(body, dict):
        return None
    for key in ("safety_identifier", "user"):
        value = as_str(body.get(key))
        if value is not None and value.strip():
            return value
    return None


def request_params(body: dict[str, Any]) -> dict[str, Any]:
    """The request minus its text: sampling settings, limits, formats; tools reduced to their names."""
    params = {key: value for key, value in body.items() if key not in _BULKY}
    for key in ("tools", "functions"):
        names = _tool_names(body.get(key))
        if names is not None:
            params[key] = names
    return params


def _tool_names(tools: Any) -> list[str] | None:
    if not isinstance(tools, list):
        return None
    names: list[str] = []
    for tool in tools:
        tool = as_dict(tool)
        function = as_dict(tool.get("function"))
        name = function.get("name") or tool.get("name") or tool.get("type")
        if isinstance(name, str):
            names.append(name)
    return names


def messages_text(messages: list[Any]) -> str | None:
    """Chat messages' contents in order, one per line (list contents: text parts, media placeholders)."""
    lines: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            content = message.get("content")
            text = content if isinstance(content, str) else content_text(content)
            if text is not None:
                lines.append(text)
    return "\n".join(lines) if lines else None


def _prompt_or_input_text(draft: Draft, body: dict[str, Any]) -> str | None:
    """Completions `prompt`, embeddings/Responses/speech `input`, Responses `instructions`, Assistants content."""
    pieces: list[str] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        pieces.append(instructions)
    for key in ("prompt", "input", "content"):
        if key in body:
            text = _loose_text(draft, body[key])
            if text:
                pieces.append(text)
    extra = body.get("additional_messages")
    if isinstance(extra, list):
        text = messages_text(extra)
        if text:
            pieces.append(text)
    return "\n".join(pieces) if pieces else None


def _loose_text(draft: Draft, value: Any) -> str | None:
    """Text of a string, a list of strings/items, or token ids (counted, since they have no text)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        return content_text(value)
    pieces: list[str] = []
    for item in value:
        if isinstance(item, str):
            pieces.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            draft.prompt_token_ids += 1
        elif isinstance(item, list):
            draft.prompt_token_ids += sum(1 for token in item if isinstance(token, int))
        elif isinstance(item, dict):
            text = _item_text(item)
            if text:
                pieces.append(text)
    return "\n".join(pieces) if pieces else None


def _item_text(item: dict[str, Any]) -> str | None:
    """One Responses input item: a message (content string or parts), a tool output, or a bare part."""
    if "content" in item:
        return content_text(item.get("content"))
    output = item.get("output")
    if isinstance(output, str):
        return output
    arguments = item.get("arguments")
    if isinstance(arguments, str):
        return arguments
    return part_text(item)
