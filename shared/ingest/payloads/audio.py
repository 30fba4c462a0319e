"""Audio bodies: transcription/translation results (JSON, verbose JSON, text, srt, vtt, or a stream),
multipart request fields, and speech (text in, binary audio out).

Whisper reports no usage and is priced per minute, so its verbose `duration` becomes `audio_seconds`;
gpt-4o-transcribe reports `usage` of type `tokens`, or of type `duration` with `seconds`.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.sse import iter_json_events
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_amount, as_text
from shared.store.records import TokenUsage

_MAX_FIELD_PARTS = 64


def read_transcription_response(draft: Draft, parsed: Any, raw: Any) -> None:
    """Fill text and usage from a JSON result, or take a non-JSON body (text/srt/vtt) as the text itself."""
    facts = draft.facts
    if not isinstance(parsed, dict):
        text = as_text(raw)
        if text is not None and text.strip():
            facts.completion_text = text.strip()
        return
    text = parsed.get("text")
    if isinstance(text, str):
        facts.completion_text = text
    facts.usage = audio_usage(parsed.get("usage"), parsed.get("duration"))


def audio_usage(raw_usage: Any, duration: Any) -> TokenUsage | None:
    """Usage of type tokens or duration; else whisper's verbose `duration` in seconds; else None."""
    if isinstance(raw_usage, dict):
        if raw_usage.get("type") == "duration" or ("seconds" in raw_usage and "input_tokens" not in raw_usage):
            seconds = as_amount(raw_usage.get("seconds"))
            if seconds is not None:
                return TokenUsage(audio_seconds=seconds)
        usage = usage_from(raw_usage)
        if usage is not None:
            return usage
    seconds = as_amount(duration)
    return TokenUsage(audio_seconds=seconds) if seconds is not None else None


def read_transcription_stream(draft: Draft, text: str) -> None:
    """gpt-4o-transcribe streams: `transcript.text.delta` pieces, then `transcript.text.done` with usage."""
    facts = draft.facts
    facts.streamed = True
    facts.stream_complete = False
    pieces: list[str] = []
    for _event, data in iter_json_events(text):
        if not isinstance(data, dict):
            facts.stream_complete = True  # [DONE]
            continue
        kind = data.get("type")
        if kind == "transcript.text.delta" and isinstance(data.get("delta"), str):
            pieces.append(data["delta"])
        elif kind == "transcript.text.done":
            facts.stream_complete = True
            done_text = data.get("text")
            if isinstance(done_text, str):
                facts.completion_text = done_text
            facts.usage = audio_usage(data.get("usage"), None) or facts.usage
    if facts.completion_text is None and pieces:
        facts.completion_text = "".join(pieces)


def multipart_fields(body: Any) -> dict[str, str] | None:
    """The non-file fields of a multipart/form-data request (model, prompt, language, response_format...)."""
    data = body.encode("utf-8", "replace") if isinstance(body, str) else body
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return None
    data = bytes(data)
    if not data.startswith(b"--"):
        return None
    line_end = data.find(b"\r\n")
    delimiter = data[:line_end] if line_end > 2 else data.split(b"\n", 1)[0]
    fields: dict[str, str] = {}
    for part in data.split(delimiter, _MAX_FIELD_PARTS)[1:]:
        head, _, value = part.partition(b"\r\n\r\n")
        if not _:
            head, _, value = part.partition(b"\n\n")
        if b"filename=" in head or b'name="' not in head:
            continue
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode("utf-8", "replace")
        fields[name] = value.rstrip(b"\r\n").decode("utf-8", "replace")
    return fields or None
