"""The optional Azure Data Explorer (Kusto) copy of the ledger: table schema, JSON mapping, rows, sink.

Domain only (no SDK): `shared/adapters/kusto.py` sends the rows with azure-kusto-ingest. ADX columns are
the SQL `calls` columns in camelCase (`call_id` -> `callId`), so a KQL query reads like the usage API's
JSON. `infra/kusto/schema.kql` creates the same table and mapping (a unit test keeps the two in step).

ADX ingestion is append-only: a call that a later piece completes (a merge in SQL) arrives again as a
second row with a later `ingestedAt`. `CallsLatest` in schema.kql (`arg_max(ingestedAt, *) by callId`)
is the deduplicated view; query it, not `Calls`, for exact figures.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from shared.store.records import CallRecord
from shared.store.times import naive_utc

logger = logging.getLogger(__name__)

TABLE = "Calls"
MAPPING = "CallsJson"  # the JSON ingestion mapping's name in ADX (ingestion_mapping_reference)

# Kusto types of the non-string columns; every other column is a string.
_DATETIME = ("time", "ingested_at")
_BOOL = ("streamed", "content_filtered", "tokens_estimated", "truncated", "body_missing", "stream_incomplete")
_INT = ("status",)
_LONG = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")
_REAL = ("duration_ms", "backend_ms", "cost_usd")

# The SQL `calls` columns in table order, minus `hour` (ADX bins `time` itself). Listed, not read from the
# SQLAlchemy table, so the Kusto schema changes only on purpose; the unit test catches a missing column.
CALL_FIELDS = (
    "call_id",
    "time",
    "ingested_at",
    "source",
    "operation",
    "api_operation_id",
    "api_version",
    "deployment",
    "model",
    "ip",
    "subscription_id",
    "subscription_name",
    "product_id",
    "user_id",
    "user_name",
    "app_id",
    "end_user",
    "tenant_id",
    "gateway",
    "region",
    "backend_id",
    "backend_url",
    "status",
    "duration_ms",
    "backend_ms",
    "streamed",
    "finish_reason",
    "content_filtered",
    "error_code",
    "error_message",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "tokens_estimated",
    "cost_usd",
    "truncated",
    "body_missing",
    "stream_incomplete",
)
TEXT_FIELDS = ("prompt_text", "completion_text")  # only with LEDGER_STORE_TEXT=true


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def kusto_type(field: str) -> str:
    if field in _DATETIME:
        return "datetime"
    if field in _BOOL:
        return "bool"
    if field in _INT:
        return "int"
    if field in _LONG:
        return "long"
    if field in _REAL:
        return "real"
    return "string"


@dataclass(frozen=True)
class KustoColumn:
    field: str  # the CallRecord field / SQL column
    name: str  # the ADX column and the JSON property of a row
    type: str  # Kusto scalar type


def columns(store_text: bool = True) -> tuple[KustoColumn, ...]:
    """The `Calls` table's columns; the text columns only when text is kept at all."""
    fields = CALL_FIELDS + (TEXT_FIELDS if store_text else ())
    return tuple(KustoColumn(f, camel(f), kusto_type(f)) for f in fields)


def table_schema(store_text: bool = True) -> str:
    """`callId:string, time:datetime, ...`: the column list of `.create-merge table Calls (...)`."""
    return ", ".join(f"{c.name}:{c.type}" for c in columns(store_text))


def json_mapping(store_text: bool = True) -> list[dict[str, str]]:
    """The JSON ingestion mapping `CallsJson`: each column from the row property of the same name."""
    return [{"column": c.name, "path": f"$.{c.name}", "datatype": c.type} for c in columns(store_text)]


def kusto_row(record: CallRecord, *, ingested_at: datetime, store_text: bool = True) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in columns(store_text):
        if column.field == "ingested_at":
            value: Any = ingested_at
        else:
            value = getattr(record, column.field)
        if column.type == "datetime":
            # ISO-8601 with a Z: ADX reads it as UTC whatever the cluster's settings.
            value = naive_utc(value).isoformat(timespec="microseconds") + "Z"
        row[column.name] = value
    return row


def kusto_rows(records: Iterable[CallRecord], *, ingested_at: datetime, store_text: bool = True) -> bytes:
    """JSON lines, one row per call, in the shape of `json_mapping`."""
    return b"".join(
        orjson.dumps(kusto_row(record, ingested_at=ingested_at, store_text=store_text)) + b"\n" for record in records
    )


def batch_tag(call_ids: Sequence[str]) -> str:
    """The same calls give the same tag, whatever their order: ADX skips a retried batch it already has."""
    digest = hashlib.sha256("\n".join(sorted(set(call_ids))).encode()).hexdigest()
    return f"ledger-{digest[:40]}"


class KustoSink(Protocol):
    """Sends rows (bytes of `kusto_rows`) to the `Calls` table. Raises when they could not be handed over."""

    def send(self, rows: bytes, *, tag: str) -> None: ...


class KustoExport:
    """The ingest hook (an `Ingestor` sink): the calls a transaction recorded or merged, sent to ADX in it.

    The records arrive masked: ingest masks every call before the SQL write and hands the sinks what it
    wrote (`shared.ingest.calls`), so ADX keeps no more than SQL does.

    Sent after the SQL writes and before the commit, so a failure to hand the rows over fails the batch:
    SQL rolls back, the host retries, and the tag (a hash of the call ids) lets ADX skip a second copy of
    what the first attempt did ingest (`ingest-by:` tag + `ingestIfNotExists`).
    """

    def __init__(self, sink: KustoSink, *, store_text: bool = True) -> None:
        self.sink = sink
        self.store_text = store_text

    def open(self, ingested_at: datetime) -> KustoBatch:
        return KustoBatch(self, ingested_at)


class KustoBatch:
    """Rows are serialised as each slice is written, so the records themselves need not stay in memory.

    One row per call: a call recorded by one slice and completed by a later one in the same transaction is
    sent once, as last written (two rows with the same `ingestedAt` would leave `arg_max` to chance).
    """

    def __init__(self, export: KustoExport, ingested_at: datetime) -> None:
        self.export = export
        self.ingested_at = ingested_at
        self.rows: dict[str, bytes] = {}

    def add(self, records: Sequence[CallRecord]) -> None:
        for record in records:
            self.rows[record.call_id] = kusto_rows(
                [record], ingested_at=self.ingested_at, store_text=self.export.store_text
            )

    def send(self) -> None:
        if not self.rows:
            return
        tag = batch_tag(list(self.rows))
        logger.info(
            "sending %d calls to Azure Data Explorer (tag %s, first call %s)",
            len(self.rows),
            tag,
            next(iter(self.rows)),
        )
        self.export.sink.send(b"".join(self.rows.values()), tag=tag)
        self.rows.clear()
