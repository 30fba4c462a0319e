"""CallRecord <-> table rows. The store keeps naive UTC datetimes; the domain uses aware ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from shared.store.records import CallRecord
from shared.store.schema import PAYLOAD_KEYS, call_payloads, calls
from shared.store.times import aware_utc, hour_of, naive_utc

CALL_COLUMNS = tuple(c.name for c in calls.columns if c.name not in ("hour", "ingested_at"))
_JSON_PAYLOAD_COLUMNS = ("request_params", "tool_calls", "content_filter", "redactions")
_TEXT_PAYLOAD_COLUMNS = ("prompt_text", "completion_text", "request_body", "response_body")
PAYLOAD_COLUMNS = tuple(c.name for c in call_payloads.columns if c.name not in PAYLOAD_KEYS)


def call_row(record: CallRecord, ingested_at: datetime) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in CALL_COLUMNS}
    row["time"] = time = naive_utc(record.time)
    row["hour"] = hour_of(time)
    row["ingested_at"] = ingested_at  # values already fit their columns (shared.store.bounds)
    return row


def has_payload(record: CallRecord) -> bool:
    return any(getattr(record, name) is not None for name in PAYLOAD_COLUMNS)


def payload_row(record: CallRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"call_id": record.call_id, "time": naive_utc(record.time)}
    for name in _JSON_PAYLOAD_COLUMNS:
        value = getattr(record, name)
        row[name] = None if value is None else orjson.dumps(value).decode()
    for name in _TEXT_PAYLOAD_COLUMNS:
        row[name] = getattr(record, name)
    return row


def record_from_rows(call: Mapping[Any, Any], payload: Mapping[Any, Any] | None = None) -> CallRecord:
    """A record from a row of `calls` and one of `call_payloads` (RowMappings: keyed by name or column)."""
    values = {name: call[name] for name in CALL_COLUMNS}
    values["time"] = aware_utc(call["time"])
    for flag in ("streamed", "content_filtered", "tokens_estimated", "truncated", "body_missing", "stream_incomplete"):
        values[flag] = bool(values[flag])
    if payload is not None:
        for name in _JSON_PAYLOAD_COLUMNS:
            raw = payload[name]
            values[name] = None if raw is None else orjson.loads(raw)
        for name in _TEXT_PAYLOAD_COLUMNS:
            values[name] = payload[name]
    return CallRecord(**values)
