"""What the request and response bodies of one Azure OpenAI call say, for every operation, plain or streamed.

`parse_payloads` is the only entry point. It never raises: bodies come from arbitrary clients through a
gateway that may cut them, so a malformed body yields fewer facts, never a lost call. Each step runs on
its own, so a failure in one (say, an odd request) still leaves the facts of the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.ingest.payloads.assistants import read_assistants_response, read_assistants_stream
from shared.ingest.payloads.audio import multipart_fields, read_transcription_response, read_transcription_stream
from shared.ingest.payloads.chat import read_chat_response
from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.embeddings import read_embeddings_response
from shared.ingest.payloads.errors import read_error
from shared.ingest.payloads.estimate import estimate_usage
from shared.ingest.payloads.images import read_images_response
from shared.ingest.payloads.request import read_request
from shared.ingest.payloads.responses import read_response_object, read_response_stream
from shared.ingest.payloads.sse import looks_like_stream
from shared.ingest.payloads.streams import read_chat_stream, read_usage_stream
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_str, as_text, load_json
from shared.store.records import PayloadFacts

__all__ = ["parse_payloads"]

logger = logging.getLogger(__name__)

_Reader = Callable[[Draft, Any], None]

_JSON_READERS: dict[str, _Reader] = {
    "chat.completions": read_chat_response,
    "completions": read_chat_response,
    "embeddings": read_embeddings_response,
    "images.generations": read_images_response,
    "responses": read_response_object,
    "assistants": read_assistants_response,
}

_STREAM_READERS: dict[str, Callable[[Draft, str], None]] = {
    "chat.completions": read_chat_stream,
    "completions": read_chat_stream,
    "other": read_chat_stream,
    "responses": read_response_stream,
    "assistants": read_assistants_stream,
    "audio.transcriptions": read_transcription_stream,
    "audio.translations": read_transcription_stream,
}

# An "other" operation's JSON body is read by what it says it is.
_BY_OBJECT: dict[str, _Reader] = {
    "chat.completion": read_chat_response,
    "text_completion": read_chat_response,
    "response": read_response_object,
    "thread.run": read_assistants_response,
    "thread.message": read_assistants_response,
}

_AUDIO_IN = ("audio.transcriptions", "audio.translations")


def parse_payloads(
    operation: str,
    request_body: str | bytes | None,
    response_body: str | bytes | None,
    response_content_type: str | None = None,
    deployment: str | None = None,
) -> PayloadFacts:
    """Read one call's bodies into PayloadFacts; usage is estimated (and flagged) when the bodies lack it.

    `operation` is the canonical operation (see `shared.store.records.OPERATIONS`). A response is a stream when
    its content type is `text/event-stream` or its text opens with `data:` / `event:` lines.
    """
    draft = Draft()
    op = operation if isinstance(operation, str) else "other"
    _step("request", _read_request_body, draft, op, request_body)
    _step("response", _read_response_body, draft, op, response_body, response_content_type)
    _step("estimate", _estimate, draft, deployment)
    _step("filters", _settle_filters, draft)
    return draft.facts


def _step(name: str, function: Callable[..., None], *args: Any) -> None:
    """Run one step; a failure is logged and the facts gathered so far are kept."""
    try:
        function(*args)
    except Exception:
        logger.warning("payload %s step failed; keeping the facts read so far", name, exc_info=True)


def _read_request_body(draft: Draft, operation: str, body: Any) -> None:
    parsed = load_json(body)
    if parsed is None and operation in _AUDIO_IN:
        parsed = multipart_fields(body)
    read_request(draft, parsed)


def _read_response_body(draft: Draft, operation: str, body: Any, content_type: Any) -> None:
    if body is None:
        return
    if looks_like_stream(body, content_type if isinstance(content_type, str) else None):
        text = as_text(body)
        if text is not None:
            _STREAM_READERS.get(operation, read_usage_stream)(draft, text)
        return
    parsed = load_json(body)
    if operation in _AUDIO_IN:
        if not read_error(draft, parsed):
            read_transcription_response(draft, parsed, body)
        return
    if not isinstance(parsed, dict):
        return
    if operation == "responses" and parsed.get("object") == "response":
        read_response_object(draft, parsed)
        return
    if read_error(draft, parsed):
        return
    reader = _JSON_READERS.get(operation)
    if reader is None:
        kind = parsed.get("object")
        reader = _BY_OBJECT.get(kind) if isinstance(kind, str) else None
    if reader is None:
        reader = _read_unknown
    reader(draft, parsed)


def _read_unknown(draft: Draft, body: dict[str, Any]) -> None:
    """An unrecognised JSON body: only the model and any usage it reports; nothing is estimated."""
    draft.estimable = False
    if "data" in body and body.get("object") == "list" and "usage" in body:
        read_embeddings_response(draft, body)
        return
    draft.facts.response_model = as_str(body.get("model"))
    draft.facts.usage = usage_from(body.get("usage"))


def _estimate(draft: Draft, deployment: Any) -> None:
    facts = draft.facts
    model = facts.response_model or facts.request_model or (deployment if isinstance(deployment, str) else None)
    estimate_usage(draft, model)


def _settle_filters(draft: Draft) -> None:
    draft.facts.content_filter = draft.filters.result()
    if draft.filters.filtered:
        draft.facts.content_filtered = True
