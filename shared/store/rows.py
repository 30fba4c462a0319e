"""CallRecord <-> table rows. The store keeps naive UTC datetimes; the domain uses aware ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson

from shared.store.records import CallRecord
from shared.store.schema import PAYLOAD_KEYS, call_payloads, calls
from shared.store.times import aware_utc, hour_of, naive_utc, sqlite_value

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


# SQLite, the ingest hot path: a row as a tuple of the values the driver binds, built in C where it can be.
SQLITE_CALL_COLUMNS = (*CALL_COLUMNS, "hour", "ingested_at")
_call_values = attrgetter(*CALL_COLUMNS)
_TIME_AT = CALL_COLUMNS.index("time")


def sqlite_call_values(record: CallRecord, ingested_at: datetime) -> tuple:
    """`call_row` as SQLite binds it, in `SQLITE_CALL_COLUMNS` order (times as `sqlite_value` writes them)."""
    values = list(_call_values(record))
    time = naive_utc(record.time)
    values[_TIME_AT] = sqlite_value(time)
    return (*values, sqlite_value(hour_of(time)), sqlite_value(ingested_at))


SQLITE_PAYLOAD_COLUMNS = ("call_id", "time", *_JSON_PAYLOAD_COLUMNS, *_TEXT_PAYLOAD_COLUMNS)
_text_values = attrgetter(*_TEXT_PAYLOAD_COLUMNS)


def sqlite_payload_values(record: CallRecord) -> tuple:
    """`payload_row` as SQLite binds it, in `SQLITE_PAYLOAD_COLUMNS` order."""
    dumped = (
        None if (value := getattr(record, name)) is None else orjson.dumps(value).decode()
        for name in _JSON_PAYLOAD_COLUMNS
    )
    return (record.call_id, sqlite_value(naive_utc(record.time)), *dumped, *_text_values(record))


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
