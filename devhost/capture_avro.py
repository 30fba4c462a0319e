"""Event Hubs Capture files: read the event bodies out of them, and write them for tests and fixtures.

Capture lands every event of a partition in Avro files on Blob Storage; replaying those files through
`ingest` is how a ledger is rebuilt or back-filled, so the devhost must read exactly what Capture writes.
The record schema below is the one Microsoft documents for Capture (`EventData` in the
`Microsoft.ServiceBus.Messaging` namespace); files may use the `null` or `deflate` codec.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro

_PROPERTY_VALUES = ["long", "double", "string", "bytes"]
CAPTURE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "EventData",
    "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {"name": "SystemProperties", "type": {"type": "map", "values": _PROPERTY_VALUES}},
        {"name": "Properties", "type": {"type": "map", "values": _PROPERTY_VALUES}},
        {"name": "Body", "type": ["null", "bytes"]},
    ],
}
_PARSED_SCHEMA = fastavro.parse_schema(CAPTURE_SCHEMA)


def read_capture_avro(path: Path) -> Iterator[bytes]:
    """Each event body of a Capture file, in file order; records without a body (null) are skipped."""
    with open(path, "rb") as handle:
        for record in fastavro.reader(handle):
            body = record.get("Body") if isinstance(record, dict) else None
            if body is None:
                continue
            yield body.encode("utf-8") if isinstance(body, str) else bytes(body)


def write_capture_avro(path: Path, bodies: Iterable[bytes], *, codec: str = "null",
                       first_enqueued: datetime | None = None) -> None:
    """Write `bodies` as Capture would: one record per event, sequence numbers and byte offsets counting up.

    `EnqueuedTimeUtc` uses the .NET invariant format Capture writes (`10/1/2026 9:00:00 AM`), one
    millisecond apart from `first_enqueued` (default: now).
    """
    start = first_enqueued or datetime.now(UTC)
    with open(path, "wb") as handle:
        fastavro.writer(handle, _PARSED_SCHEMA, _records(bodies, start), codec=codec)


def _records(bodies: Iterable[bytes], start: datetime) -> Iterator[dict[str, Any]]:
    offset = 0
    for sequence, body in enumerate(bodies):
        enqueued = start + timedelta(milliseconds=sequence)
        yield {
            "SequenceNumber": sequence,
            "Offset": str(offset),
            "EnqueuedTimeUtc": _dotnet_utc(enqueued),
            "SystemProperties": {"x-opt-sequence-number": sequence, "x-opt-offset": str(offset)},
            "Properties": {},
            "Body": bytes(body),
        }
        offset += len(body)


def _dotnet_utc(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return (f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} "
            f"{'AM' if moment.hour < 12 else 'PM'}")
