"""Capture Avro files: bodies survive a write/read round trip with either codec Capture uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pytest

from devhost.capture_avro import CAPTURE_SCHEMA, read_capture_avro, write_capture_avro

BODIES = [b'{"schema": "aoai-ledger/capture/v1", "id": "a"}', b"", "{\"t\": \"caf\u00e9\"}".encode(), b"x" * 150_000]


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_bodies_round_trip_in_order(tmp_path: Path, codec: str) -> None:
    path = tmp_path / f"{codec}.avro"
    write_capture_avro(path, BODIES, codec=codec)
    assert list(read_capture_avro(path)) == BODIES


def test_deflate_file_declares_its_codec_and_the_capture_schema(tmp_path: Path) -> None:
    path = tmp_path / "capture.avro"
    write_capture_avro(path, BODIES, codec="deflate")
    with open(path, "rb") as handle:
        reader = fastavro.reader(handle)
        assert reader.codec == "deflate"
        assert reader.writer_schema["name"] == "Microsoft.ServiceBus.Messaging.EventData"
        assert [f["name"] for f in reader.writer_schema["fields"]] == [
            "SequenceNumber", "Offset", "EnqueuedTimeUtc", "SystemProperties", "Properties", "Body"]


def test_records_carry_sequence_offset_and_dotnet_enqueued_time(tmp_path: Path) -> None:
    path = tmp_path / "capture.avro"
    write_capture_avro(path, [b"abc", b"defg"], first_enqueued=datetime(2026, 10, 1, 13, 5, 9, tzinfo=UTC))
    with open(path, "rb") as handle:
        records = list(fastavro.reader(handle))
    assert [(r["SequenceNumber"], r["Offset"]) for r in records] == [(0, "0"), (1, "3")]
    assert records[0]["EnqueuedTimeUtc"] == "10/1/2026 1:05:09 PM"


def test_records_without_a_body_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "capture.avro"
    record = {"SequenceNumber": 0, "Offset": "0", "EnqueuedTimeUtc": "10/1/2026 9:00:00 AM",
              "SystemProperties": {}, "Properties": {}, "Body": None}
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(dict(CAPTURE_SCHEMA)), [record, {**record, "Body": b"ok"}])
    assert list(read_capture_avro(path)) == [b"ok"]


def test_an_empty_capture_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.avro"
    write_capture_avro(path, [])
    assert list(read_capture_avro(path)) == []
