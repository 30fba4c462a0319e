"""The canonical call record and the facts the parsers extract on the way to it.

Plain dataclasses with UTC datetimes: every input format ends as a `CallRecord`, and every store, query and
alert reads only `CallRecord` fields, so a new input format never touches the read side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OPERATIONS = (
    "chat.completions",
    "completions",
    "embeddings",
    "images.generations",
    "audio.transcriptions",
    "audio.translations",
    "audio.speech",
    "responses",
    "assistants",
    "other",
)


@dataclass(slots=True)
class TokenUsage:
    """Token counts as the provider reported them (or as estimated, then `estimated` is True)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    audio_seconds: float | None = None  # whisper-style usage, priced per minute
    images: int = 0  # image generations without token usage (dall-e), priced per image
    estimated: bool = False


@dataclass(slots=True)
class PayloadFacts:
    """What the request and response bodies of one call say, whatever the operation or streaming mode."""

    request_model: str | None = None
    response_model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # request parameters without messages/input
    end_user: str | None = None  # who the app serves: `safety_identifier`, else `user`
    prompt_text: str | None = None
    completion_text: str | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    content_filter: dict[str, Any] | None = None  # {"prompt": [...], "completion": [...]} as Azure sent them
    content_filtered: bool = False  # a prompt or completion was blocked by the content filter
    usage: TokenUsage | None = None  # None: the bodies carry no usage at all
    streamed: bool = False
    stream_complete: bool = True  # False: a stream ended without [DONE] / a terminal event
    error_code: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class CallRecord:
    """One Azure OpenAI call as the ledger keeps it. Field names are the store's column names."""

    call_id: str
    time: datetime  # UTC, timezone-aware
    source: str  # "capture/v1", "legacy-sample", "azure-monitor"
    operation: str  # one of OPERATIONS
    api_operation_id: str | None = None
    api_version: str | None = None
    deployment: str | None = None
    model: str | None = None
    # who
    ip: str | None = None
    subscription_id: str | None = None
    subscription_name: str | None = None
    product_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    app_id: str | None = None
    end_user: str | None = None  # the app's own user: the request body's `safety_identifier` or `user`
    tenant_id: str | None = None
    gateway: str | None = None
    region: str | None = None
    backend_id: str | None = None
    backend_url: str | None = None
    # how it went
    status: int = 0
    duration_ms: float | None = None
    backend_ms: float | None = None
    streamed: bool = False
    finish_reason: str | None = None
    content_filtered: bool = False
    error_code: str | None = None
    error_message: str | None = None
    # how much
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    tokens_estimated: bool = False
    cost_usd: float | None = None  # None: no price known for the model; never a silent 0
    # what may be missing
    truncated: bool = False  # the event was cut (log-to-eventhub 200 KB) and salvaged, or a value cut to fit the store
    body_missing: bool = False  # a claim-checked body never arrived
    stream_incomplete: bool = False  # a stream ended without its terminal marker
    # the text side, stored in its own table so retention can drop it and keep the numbers
    request_params: dict[str, Any] | None = None
    prompt_text: str | None = None
    completion_text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    content_filter: dict[str, Any] | None = None
    request_body: str | None = None
    response_body: str | None = None
    redactions: dict[str, int] | None = None  # what masking before storage replaced, per kind (shared.ingest.redaction)

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 400


@dataclass(slots=True)
class DeadLetter:
    """An event that could not become a call: its raw bytes and a reason a person understands."""

    raw: bytes
    reason: str
    event_id: str | None = None
    source: str | None = None  # where it came from: "partition 3 offset 4711", a file and line, ...
    truncated_call_id: str | None = None  # set when a salvaged call was recorded from these bytes
