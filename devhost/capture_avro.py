"""Event Hubs Capture files: read the event bodies out of them, and write them for tests and fixtures.

Capture lands every event of a partition in Avro files on Blob Storage; replaying those files through
`ingest` is how a ledger is rebuilt or back-filled, so the devhost must read exactly what Capture writes.
The record schema below is the one Microsoft documents for Capture (`EventData` in the
`Microsoft.ServiceBus.Messaging` namespace); files may use the `null` or `deflate` codec.
"""

from __future__ import annotations

import io
import json
import logging
import mmap
import os
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import HEADER_SCHEMA, MAGIC, SYNC_SIZE

logger = logging.getLogger(__name__)
ProblemReporter = Callable[[str], None]  # gets one line per unreadable part of a file
_CODECS = ("null", "deflate")
_MAX_HEADER = 1 << 20  # Capture's header is ~500 bytes (magic, schema, codec, sync marker)

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


def read_capture_avro(path: Path, on_problem: ProblemReporter = logger.warning) -> Iterator[bytes]:
    """Each event body of a Capture file, in file order; records without a body (null) are skipped.

    A damaged file gives all that can be read of it, and `on_problem` gets one line per loss: a file cut
    mid-block (Capture still writing it, an interrupted copy) yields the records before the cut; a block that
    cannot be decoded is skipped and reading resumes at the next sync marker; a record that cannot be decoded
    ends its block (Avro records carry no length, so the rest of a block cannot be found without it).
    """
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                on_problem(f"{path}: an empty file, not an Avro container file")
                return
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        on_problem(f"{path}: cannot be read ({exc.strerror or exc})")
        return
    with view:
        # Parsed from a bounded copy: a damaged header may claim lengths of exabytes.
        head = io.BytesIO(view[:_MAX_HEADER])
        try:
            header = fastavro.schemaless_reader(head, HEADER_SCHEMA)
            if not isinstance(header, dict) or header["magic"] != MAGIC:
                raise ValueError("no Avro magic bytes")
            schema = fastavro.parse_schema(json.loads(header["meta"]["avro.schema"]))
            codec = header["meta"].get("avro.codec", b"null").decode()
        except Exception as exc:  # noqa: BLE001 - whatever the header holds, the file is reported, not fatal
            on_problem(
                f"{path}: not an Avro container file, or cut in its header ({_reason(exc)}); "
                "give Event Hubs Capture .avro files, or JSON Lines as .jsonl"
            )
            return
        if codec not in _CODECS:
            on_problem(f"{path}: Avro codec {codec!r} is not one Capture writes (null, deflate); file skipped")
            return
        for record in _block_records(
            view, head.tell(), header["sync"], schema, codec, lambda text: on_problem(f"{path}: {text}")
        ):
            body = record.get("Body") if isinstance(record, dict) else None
            if body is not None:
                yield body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _block_records(
    view: mmap.mmap, position: int, sync: bytes, schema: Any, codec: str, on_problem: ProblemReporter
) -> Iterator[Any]:
    """The records of the blocks from `position` on: count and size (zigzag varints), data, sync marker."""
    end = len(view)
    while position < end:
        block = position
        try:
            count, position = _long(view, position)
            size, position = _long(view, position)
        except IndexError:
            on_problem(f"cut at byte {end:,}, in the header of the block at byte {block:,}")
            return
        except ValueError:  # a varint longer than a long
            count = size = -1
        data_end = position + size
        if count < 0 or size < 0:
            position = _resync(view, sync, block + 1, on_problem, f"the block at byte {block:,} has a corrupt header")
            continue
        if data_end + SYNC_SIZE > end and view.find(sync, position) != -1:
            position = _resync(
                view, sync, position, on_problem, f"the block at byte {block:,} overruns the next sync marker"
            )
            continue
        if data_end + SYNC_SIZE > end:  # the last block, cut short: what arrived of it
            read = yield from _decode(view[position:data_end], count, schema, codec, complete=False)
            on_problem(f"cut at byte {end:,}, inside the block at byte {block:,}: {read} of its {count} records read")
            return
        if view[data_end : data_end + SYNC_SIZE] != sync:
            position = _resync(
                view, sync, position, on_problem, f"the block at byte {block:,} is not followed by the sync marker"
            )
            continue
        try:
            read = yield from _decode(view[position:data_end], count, schema, codec, complete=True)
        except _BadBlock as exc:
            on_problem(f"the block at byte {block:,} cannot be decompressed ({exc}); its {count} records skipped")
        else:
            if read < count:
                on_problem(
                    f"record {read + 1} of {count} in the block at byte {block:,} cannot be decoded; "
                    f"it and the {count - read - 1} after it skipped"
                )
        position = data_end + SYNC_SIZE


def _decode(data: bytes, count: int, schema: Any, codec: str, *, complete: bool) -> Generator[Any, None, int]:
    """Yield the block's records until one cannot be decoded; return how many were."""
    if codec == "deflate":  # raw DEFLATE (RFC 1951), as the Avro specification has it
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(data) + (inflater.flush() if complete else b"")
        except zlib.error as exc:
            if complete:
                raise _BadBlock(str(exc)) from None
            data = b""
    buffer = io.BytesIO(data)
    for read in range(count):  # a corrupt count ends with the data: every record takes at least a byte
        before = buffer.tell()
        if before >= len(data):
            return read
        try:
            record = fastavro.schemaless_reader(buffer, schema, None)
        except Exception:  # noqa: BLE001 - damaged bytes fail in many ways inside the decoder
            return read
        if buffer.tell() == before:  # a schema whose records take no bytes: nothing to replay
            return read
        yield record
    return count


def _resync(view: mmap.mmap, sync: bytes, after: int, on_problem: ProblemReporter, what: str) -> int:
    """Where reading resumes after a damaged block: past the next sync marker, or the end of the file."""
    found = view.find(sync, after)
    if found == -1:
        on_problem(f"{what}; no sync marker after it, the rest of the file (from byte {after:,}) skipped")
        return len(view)
    on_problem(f"{what}; skipped to the next sync marker, at byte {found:,}")
    return found + SYNC_SIZE


def _long(view: mmap.mmap, position: int) -> tuple[int, int]:
    """An Avro long (zigzag varint, at most 10 bytes) at `position` and the position after it; IndexError when
    the file ends inside it, ValueError when it runs on past 10 bytes."""
    value = shift = 0
    for offset in range(10):
        byte = view[position + offset]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), position + offset + 1
        shift += 7
    raise ValueError(f"a varint longer than 10 bytes at byte {position:,}")


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _BadBlock(Exception):
    """A complete block whose data does not decompress."""


def write_capture_avro(
    path: Path, bodies: Iterable[bytes], *, codec: str = "null", first_enqueued: datetime | None = None
) -> None:
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
    return (
        f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} "
        f"{'AM' if moment.hour < 12 else 'PM'}"
    )
