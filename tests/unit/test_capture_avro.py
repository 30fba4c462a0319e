"""Capture Avro files: bodies survive a write/read round trip with either codec Capture uses, and a damaged
file gives all that can be read of it with a line per loss."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devhost.capture_avro import CAPTURE_SCHEMA, read_capture_avro, write_capture_avro

BODIES = [b'{"schema": "aoai-ledger/capture/v1", "id": "a"}', b"", '{"t": "caf\u00e9"}'.encode(), b"x" * 150_000]


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
            "SequenceNumber",
            "Offset",
            "EnqueuedTimeUtc",
            "SystemProperties",
            "Properties",
            "Body",
        ]


def test_records_carry_sequence_offset_and_dotnet_enqueued_time(tmp_path: Path) -> None:
    path = tmp_path / "capture.avro"
    write_capture_avro(path, [b"abc", b"defg"], first_enqueued=datetime(2026, 10, 1, 13, 5, 9, tzinfo=UTC))
    with open(path, "rb") as handle:
        records = list(fastavro.reader(handle))
    assert [(r["SequenceNumber"], r["Offset"]) for r in records] == [(0, "0"), (1, "3")]
    assert records[0]["EnqueuedTimeUtc"] == "10/1/2026 1:05:09 PM"


def test_records_without_a_body_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "capture.avro"
    record = {
        "SequenceNumber": 0,
        "Offset": "0",
        "EnqueuedTimeUtc": "10/1/2026 9:00:00 AM",
        "SystemProperties": {},
        "Properties": {},
        "Body": None,
    }
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(dict(CAPTURE_SCHEMA)), [record, {**record, "Body": b"ok"}])
    assert list(read_capture_avro(path)) == [b"ok"]


def test_an_empty_capture_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.avro"
    write_capture_avro(path, [])
    assert list(read_capture_avro(path)) == []


def _capture_file(tmp_path: Path, codec: str) -> tuple[bytes, list[bytes], list[tuple[int, int]]]:
    """A Capture file of four or more blocks: its bytes, its bodies and (offset, records) of each block."""
    bodies = [b'{"n": %d, "text": "' % i + b"%03d" % i * 230 + b'"}' for i in range(90)]
    path = tmp_path / f"whole-{codec}.avro"
    write_capture_avro(path, bodies, codec=codec, first_enqueued=datetime(2026, 10, 1, tzinfo=UTC))
    with open(path, "rb") as handle:
        blocks = [(block.offset, block.num_records) for block in fastavro.block_reader(handle)]
    assert len(blocks) >= 4
    return path.read_bytes(), bodies, blocks


def _read(tmp_path: Path, data: bytes) -> tuple[list[bytes], list[str]]:
    path = tmp_path / "damaged.avro"
    path.write_bytes(data)
    problems: list[str] = []
    return list(read_capture_avro(path, problems.append)), problems


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_a_file_cut_anywhere_in_its_blocks_yields_what_precedes_the_cut_and_one_line_naming_it(tmp_path, codec):
    data, bodies, blocks = _capture_file(tmp_path, codec)
    for cut in range(blocks[0][0] + 1, len(data), 97):
        read, problems = _read(tmp_path, data[:cut])
        assert read == bodies[: len(read)]  # in order, nothing made up
        assert len(read) >= sum(
            records for (start, records), (following, _) in itertools.pairwise(blocks) if following <= cut
        )
        assert len(problems) == 1 and f"cut at byte {cut:,}" in problems[0], problems


def test_a_block_cut_in_its_records_still_yields_the_records_that_arrived_whole(tmp_path):
    data, bodies, blocks = _capture_file(tmp_path, "null")
    (_, first), (second, records), (third, _) = blocks[:3]
    read, problems = _read(tmp_path, data[: second + (third - second) // 2])
    assert first < len(read) < first + records and read == bodies[: len(read)]
    assert f"inside the block at byte {second:,}: {len(read) - first} of its {records} records read" in problems[0]


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_a_damaged_block_is_reported_and_reading_resumes_at_the_next_sync_marker(tmp_path, codec):
    data, bodies, blocks = _capture_file(tmp_path, codec)
    (_, first), (second, records) = blocks[:2]
    damaged = bytearray(data)
    damaged[second + 4 : second + 40] = b"\xff" * 36  # the second block's first record / deflate stream
    read, problems = _read(tmp_path, bytes(damaged))
    assert read == bodies[:first] + bodies[first + records :]
    assert len(problems) == 1 and f"block at byte {second:,}" in problems[0]


def test_a_lost_sync_marker_loses_the_blocks_up_to_the_next_marker_only(tmp_path):
    data, bodies, blocks = _capture_file(tmp_path, "deflate")
    (_, first), (second, records), (third, more), (fourth, _) = blocks[:4]
    read, problems = _read(tmp_path, data[: third - 16] + b"\x00" * 16 + data[third:])
    assert read == bodies[:first] + bodies[first + records + more :]  # the next block began at the lost marker
    assert len(problems) == 1 and f"the block at byte {second:,} is not followed by the sync marker" in problems[0]
    assert f"skipped to the next sync marker, at byte {fourth - 16:,}" in problems[0]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_damage_anywhere_is_reported_never_raised(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("avro")
    whole, bodies, _ = _capture_file(tmp_path, data.draw(st.sampled_from(["null", "deflate"])))
    damaged = bytearray(whole)
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at : at + data.draw(st.integers(1, 64))] = data.draw(st.binary(min_size=1, max_size=64))
    read, problems = _read(tmp_path, bytes(damaged[: data.draw(st.integers(1, len(damaged)))]))
    assert all(isinstance(body, bytes) for body in read)
    # Unreported damage can only be damage the format cannot see: a cut at a block boundary (a valid, shorter
    # file) or bytes overwritten inside a record of the null codec (no checksum). Neither adds records; what
    # each record holds is checked by the exact tests above (every cut position, damaged blocks, lost markers).
    assert problems or len(read) <= len(bodies)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"not": "avro"}\n',
        b"Obj\x01" + b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        b"Obj\x01\x02" + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f",
    ],
    ids=["empty", "json", "endless map", "exabyte key"],
)
def test_a_file_that_is_not_capture_avro_is_reported_in_one_line(tmp_path, content):
    path = tmp_path / "capture.avro"
    path.write_bytes(content)
    problems: list[str] = []
    assert list(read_capture_avro(path, problems.append)) == []
    assert len(problems) == 1 and problems[0].startswith(f"{path}: ")


def test_a_missing_file_is_reported_not_raised(tmp_path):
    problems: list[str] = []
    assert list(read_capture_avro(tmp_path / "gone.avro", problems.append)) == []
    assert problems == [f"{tmp_path / 'gone.avro'}: cannot be read (No such file or directory)"]
