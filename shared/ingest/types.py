"""What ingest's parts agree on: the events in, what a format decodes them into, and the interfaces the use
case is built from (formats, part assemblers, the salvager, claim checks, call sinks).

Formats and claim checks import these, never the use case (`shared.ingest.batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.store.records import CallRecord, DeadLetter, TokenUsage

PartKey = tuple[str, str]  # (kind, part key): the parts of one call
PricedRecord = tuple[CallRecord, TokenUsage | None]
Joined = tuple[list[PricedRecord], dict[str, bytes]]  # the calls assembled from parts, and the parts (name -> bytes)


@dataclass(slots=True)
class IncomingEvent:
    body: bytes
    source: str | None = None  # "partition 2 seq 4711", "sample.jsonl:12": where to look for it again


@dataclass(slots=True)
class Part:
    """A piece of a call that needs other pieces (the other half of a pair, LLM-log chunks, a blob)."""

    kind: str
    key: str
    name: str
    payload: bytes


@dataclass
class Decoded:
    records: list[PricedRecord] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


class EventFormat(Protocol):
    """One input format: recognises its events and turns one into records and/or parts."""

    name: str

    def matches(self, doc: Any) -> bool: ...

    def decode(self, doc: Any, raw: bytes) -> Decoded: ...


class PartAssembler(Protocol):
    """Joins the parts of one call. `force`: the join window has passed; record what is there."""

    kind: str
    redelivery_is_duplicate: bool  # True: a part of an already recorded call adds nothing (no late pieces)
    # True: parts stay stored after the call is recorded, until the sweep after the join window, so a late
    # piece re-assembles the whole call (and the merge updates the recorded call instead of adding it again).
    keep_parts: bool

    def assemble(self, key: str, parts: dict[str, bytes], *, force: bool) -> list[PricedRecord] | None: ...


class Salvager(Protocol):
    def salvage(self, raw: bytes, reason: str) -> PricedRecord | None: ...


class ClaimResolving(Protocol):
    """Fetches claim-checked bodies (see `shared.ingest.claims.ClaimResolver`): call id -> record for the
    events it could complete."""

    kind: str

    def resolve(self, events: dict[str, bytes], *, budget_seconds: float | None = None) -> dict[str, PricedRecord]: ...


class CallSinkBatch(Protocol):
    def add(self, records: Sequence[CallRecord]) -> None: ...

    def send(self) -> None: ...


class CallSink(Protocol):
    """Another store that gets the calls a transaction recorded or merged (e.g. `shared.store.kusto_sink.KustoExport`).

    `open` per transaction, `add` after each write, `send` after the SQL writes and before the commit: a
    failure to send raises, the transaction rolls back and the host retries the batch. The records it gets
    are already masked (`shared.ingest.redaction`).
    """

    def open(self, ingested_at: datetime) -> CallSinkBatch: ...


@dataclass
class BatchReport:
    events: int = 0
    recorded: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    pending: int = 0
    calls_recorded: int = 0
    calls_merged: int = 0
    ignored: int = 0  # events that carry nothing for the ledger (e.g. diagnostic records of other categories)

    def add(self, other: BatchReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict[str, int]:
        return {
            "events": self.events,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "deadLettered": self.dead_lettered,
            "pending": self.pending,
        } | ({"ignored": self.ignored} if self.ignored else {})
