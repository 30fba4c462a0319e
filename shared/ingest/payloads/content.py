"""The plain text of message content, as chat, Responses and Assistants spell it."""

from __future__ import annotations

from typing import Any


def content_text(content: Any) -> str | None:
    """Plain text of a message `content`: a string, or a list of parts (text kept, media as placeholders)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    pieces: list[str] = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            piece = part_text(part)
            if piece is not None:
                pieces.append(piece)
    return "\n".join(pieces) if pieces else None


_PLACEHOLDERS = {
    "image_url": "[image]",
    "input_image": "[image]",
    "image_file": "[image]",
    "input_audio": "[audio]",
    "file": "[file]",
    "input_file": "[file]",
}


def part_text(part: dict[str, Any]) -> str | None:
    """The text of one content part; chat, Responses and Assistants spell text parts differently."""
    text = part.get("text")
    if isinstance(text, str):
        return text
    if isinstance(text, dict):  # Assistants: {"type": "text", "text": {"value": ...}}
        value = text.get("value")
        return value if isinstance(value, str) else None
    refusal = part.get("refusal")
    if isinstance(refusal, str):
        return refusal
    kind = part.get("type")
    return _PLACEHOLDERS.get(kind) if isinstance(kind, str) else None
