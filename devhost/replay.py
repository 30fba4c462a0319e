"""`python -m devhost replay`: feed JSON Lines and Event Hubs Capture Avro files through the `ingest`
function in batches, as the host would, and report what became of every event."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Iterator

import azure.functions as func

from shared.ingest import BatchReport
from shared.wiring import app_context

from .functions import LocalFunction


def read_events(paths: Iterable[Path]) -> Iterator[bytes]:
    """Event bodies: one per non-blank line of a .jsonl file, one per record of a Capture .avro file."""
    for path in paths:
        if path.suffix == ".avro":
            from .capture_avro import read_capture_avro

            yield from read_capture_avro(path)
            continue
        with open(path, "rb") as handle:
            for line in handle:
                stripped = line.rstrip(b"\r\n")
                if stripped.strip():
                    yield stripped


def _batches(bodies: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for body in bodies:
        batch.append(body)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def replay(function: LocalFunction, paths: list[Path], *, batch_size: int = 500, progress: bool = False) -> BatchReport:
    total = BatchReport()
    ingestor = app_context().ingestor
    ingestor.observers.append(total.add)  # the function logs its report; we add them up here
    try:
        sequence = 0
        for batch in _batches(read_events(paths), batch_size):
            events = [func.EventHubEvent(body=body, sequence_number=sequence + i) for i, body in enumerate(batch)]
            sequence += len(batch)
            function.call(events)
            if progress:
                sys.stderr.write(f"\rreplayed {total.events:,} events: {total.recorded:,} recorded, "
                                 f"{total.duplicates:,} duplicates, {total.dead_lettered:,} dead-lettered")
                sys.stderr.flush()
    finally:
        ingestor.observers.remove(total.add)
        if progress:
            sys.stderr.write("\n")
    return total
