"""`python -m devhost replay`: feed JSON Lines and Event Hubs Capture Avro files through the `ingest` function in
batches, as the host would, and report what became of every event.

A replay never stops half-way: a file that cannot be read, a damaged part of a Capture file and a batch the
function fails on are each reported in one line (stderr) and counted, and the replay goes on with the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import azure.functions as func

from devhost.functions import LocalFunction
from shared.app.wiring import app_context
from shared.ingest.types import BatchReport

ProblemReporter = Callable[[str], None]


@dataclass
class ReplayReport:
    """The ingest reports of every batch added up, plus what never reached the function or failed in it."""

    batches: BatchReport = field(default_factory=BatchReport)
    unreadable: int = 0  # files, blocks or records that could not be read (one per reported line)
    failed_events: int = 0  # events of batches the function raised on (the host would retry those)

    @property
    def complete(self) -> bool:
        return not (self.unreadable or self.failed_events)

    def as_json(self) -> dict[str, int]:
        # Like `ignored`, the two counts appear only when something was lost, so a clean report stays as it was.
        return (
            self.batches.as_json()
            | ({"unreadable": self.unreadable} if self.unreadable else {})
            | ({"failedEvents": self.failed_events} if self.failed_events else {})
        )


def report_on_stderr(text: str) -> None:
    sys.stderr.write(f"devhost: {text}\n")
    sys.stderr.flush()


def read_events(paths: Iterable[Path], on_problem: ProblemReporter = report_on_stderr) -> Iterator[bytes]:
    """Event bodies: one per non-blank line of a .jsonl file, one per record of a Capture .avro file."""
    for path in paths:
        if path.suffix == ".avro":
            from devhost.capture_avro import read_capture_avro

            yield from read_capture_avro(path, on_problem)
            continue
        yield from _lines(path, on_problem)


def _lines(path: Path, on_problem: ProblemReporter) -> Iterator[bytes]:
    number = 0
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):  # noqa: B007 - the except clause below reports it
                stripped = line.rstrip(b"\r\n")
                if stripped.strip():
                    yield stripped
    except OSError as exc:
        where = f" after line {number:,}" if number else ""
        on_problem(f"{path}: cannot be read{where} ({exc.strerror or exc})")


def _batches(bodies: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for body in bodies:
        batch.append(body)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def replay(
    function: LocalFunction,
    paths: list[Path],
    *,
    batch_size: int = 500,
    progress: bool = False,
    on_problem: ProblemReporter = report_on_stderr,
) -> ReplayReport:
    """Feed the files' events to `function` in batches; every loss is reported through `on_problem` and counted."""
    total = ReplayReport()

    def report(text: str) -> None:
        if progress:  # below the progress line, not over it
            sys.stderr.write("\n")
        on_problem(text)

    def unreadable(text: str) -> None:
        total.unreadable += 1
        report(text)

    ingestor = app_context().ingestor
    ingestor.observers.append(total.batches.add)  # the function logs its report; we add them up here
    try:
        sequence = 0
        for batch in _batches(read_events(paths, unreadable), batch_size):
            events = [func.EventHubEvent(body=body, sequence_number=sequence + i) for i, body in enumerate(batch)]
            try:
                function.call(events)
            except Exception as exc:  # noqa: BLE001 - the host would retry this batch; a replay reports it and goes on
                total.failed_events += len(batch)
                report(
                    f"events {sequence + 1:,} to {sequence + len(batch):,} failed as a batch "
                    f"({type(exc).__name__}: {str(exc)[:300]}); replaying them again retries them"
                )
            sequence += len(batch)
            if progress:
                counts = total.batches
                sys.stderr.write(
                    f"\rreplayed {counts.events:,} events: {counts.recorded:,} recorded, "
                    f"{counts.duplicates:,} duplicates, {counts.dead_lettered:,} dead-lettered"
                )
                sys.stderr.flush()
    finally:
        ingestor.observers.remove(total.batches.add)
        if progress:
            sys.stderr.write("\n")
    return total
