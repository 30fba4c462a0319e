"""The ingest use case: a batch of raw Event Hubs events becomes recorded calls, parts and dead letters.

Every event ends as exactly one of: recorded (it made or completed a call), duplicate (its call was already
known), pending (a part waiting for its partner) or dead-lettered (raw bytes + a reason). One bad event never
fails the batch: a call no store can keep is dead-lettered before any store sees it (`shared.store.bounds`), and one
the database still refuses is isolated and dead-lettered with the database's message (`store.writes`). A store
failure does fail the batch (the whole batch is one transaction, so the host's retry starts clean and, being
idempotent, never counts twice).

`Ingestor` holds what a batch is made with; `BatchRun` is one batch (collect the events, flush each slice);
`shared.ingest.parts` joins calls that come in parts and sweeps the ones that waited too long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection

from shared.ingest.calls import CallWriter
from shared.ingest.decode import EventDecoder, event_letter, refuse_unstorable
from shared.ingest.merge import merge_records
from shared.ingest.parts import PartJoiner, part_letters, refusal_reason
from shared.ingest.pricing import PriceBook
from shared.ingest.types import (
    BatchReport,
    CallSink,
    ClaimResolving,
    Decoded,
    EventFormat,
    IncomingEvent,
    Part,
    PartAssembler,
    PartKey,
    Salvager,
)
from shared.store.bounds import bound_record
from shared.store.records import CallRecord, DeadLetter
from shared.store.rollups import RollupDeltas
from shared.store.sql import SqlStore
from shared.store.times import naive_utc
from shared.store.writes import CallWrites

logger = logging.getLogger(__name__)

_RECORDED, _DUPLICATE, _PENDING, _DEAD, _IGNORED = "recorded", "duplicate", "pending", "dead", "ignored"
_RANK = {_RECORDED: 3, _DUPLICATE: 2, _PENDING: 1, _DEAD: 0, _IGNORED: 0}


class Ingestor:
    def __init__(
        self,
        store: SqlStore,
        prices: PriceBook,
        formats: Sequence[EventFormat],
        assemblers: Sequence[PartAssembler] = (),
        *,
        salvager: Salvager | None = None,
        claims: ClaimResolving | None = None,
        store_text: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sinks: Sequence[CallSink] = (),
        hourly_sums_days: int = 0,
    ) -> None:
        self.hourly_sums_days = hourly_sums_days  # see RollupDeltas
        self.store = store
        self.decoder = EventDecoder(formats, salvager)
        self.calls = CallWriter(store, prices, store_text=store_text, sinks=sinks)
        self.parts = PartJoiner(store, self.calls, assemblers, claims=claims, clock=clock)
        self.claims = claims
        self.clock = clock
        self.observers: list[Callable[[BatchReport], None]] = []  # e.g. the local host's replay totals
        self.slice_size = 100  # events decoded and written at a time inside the batch's transaction

    def decode_event(self, event: IncomingEvent) -> Decoded:
        """Never raises: whatever cannot be read becomes a dead letter naming why."""
        return self.decoder.decode(event)

    def ingest_batch(self, events: Sequence[IncomingEvent]) -> BatchReport:
        """One transaction for the batch, filled slice by slice so only one slice's text is in memory."""
        early = self._decode_claim_checked(events)  # network I/O: before the transaction, never inside it
        run = BatchRun(self, events, now=naive_utc(self.clock()))
        with self.store.write() as conn:
            for start in range(0, len(events), self.slice_size):
                for index in range(start, min(start + self.slice_size, len(events))):
                    decoded = early.pop(index, None)
                    run.collect(index, decoded or self.decode_event(events[index]))
                # Earlier slices are in the same transaction, so a repeat across slices is found as a duplicate.
                run.flush(conn)
            run.finish(conn)
        report = run.report()
        logger.info(
            "ingested %d events: %d recorded, %d duplicates, %d pending, %d dead-lettered (%d new calls, %d merged)",
            report.events,
            report.recorded,
            report.duplicates,
            report.pending,
            report.dead_lettered,
            report.calls_recorded,
            report.calls_merged,
        )
        for observer in self.observers:
            observer(report)
        return report

    def sweep_stale(self, windows: Mapping[str, float]) -> BatchReport:
        """Timer `pending_sweep`: record the calls whose parts waited past their join window (seconds, by kind)."""
        return self.parts.sweep_stale(windows)

    def retry_claims(self, *, limit: int = 1000) -> BatchReport:
        """Timer `pending_sweep`: fetch the bodies of waiting claim-checked calls again; record those found."""
        return self.parts.retry_claims(limit=limit)

    def _decode_claim_checked(self, events: Sequence[IncomingEvent]) -> dict[int, Decoded]:
        """Decode, and fetch the bodies of, the events that name a claim-checked body (cheap byte test first)."""
        if self.claims is None:
            return {}
        early = {i: self.decode_event(e) for i, e in enumerate(events) if b'"bodyRef"' in e.body}
        self._resolve_claims(self.claims, list(early.values()))
        return early

    @staticmethod
    def _resolve_claims(claims: ClaimResolving, decoded: list[Decoded]) -> None:
        """Claim parts whose bodies can be fetched now become records; the others stay parts (pending)."""
        kind = claims.kind
        events = {part.key: part.payload for item in decoded for part in item.parts if part.kind == kind}
        if not events:
            return
        resolved = claims.resolve(events)
        for item in decoded:
            for part in [p for p in item.parts if p.kind == kind and p.key in resolved]:
                item.parts.remove(part)
                item.records.append(resolved[part.key])


class BatchRun:
    """One batch inside its transaction: each event's outcome, the calls of the current slice, the parts and
    dead letters of the whole batch, and the rollup changes applied once before the commit."""

    def __init__(self, ingestor: Ingestor, events: Sequence[IncomingEvent], *, now: datetime) -> None:
        self.calls, self.joiner, self.store = ingestor.calls, ingestor.parts, ingestor.store
        self.events = events
        self.now = now
        self.outcome = [_DEAD] * len(events)
        self.parts: list[Part] = []
        self.part_owners: dict[PartKey, list[int]] = {}
        self.dead: list[DeadLetter] = []
        self.totals = CallWrites()
        self.deltas = RollupDeltas(ingestor.hourly_sums_days)
        self.exports = self.calls.open_exports(now)
        self._start_slice()

    def _start_slice(self) -> None:
        self.batch: dict[str, CallRecord] = {}
        self.owners: dict[str, list[int]] = {}  # call id -> events of this slice that carry it
        self.repeats: dict[str, list[int]] = {}  # call id -> events of this slice that only repeat it

    def collect(self, index: int, item: Decoded) -> None:
        """Take in what event `index` decoded to: its calls join the slice, its parts and dead letters the batch."""
        event = self.events[index]
        refuse_unstorable(item, event, self.now)
        self.outcome[index] = _PENDING if item.parts else _IGNORED if not (item.records or item.dead) else _DEAD
        for record, usage in item.records:
            self.calls.price(record, usage)
            self._keep(record, [index], self.repeats)
        for part in item.parts:
            self.parts.append(part)
            self.part_owners.setdefault((part.kind, part.key), []).append(index)
        self.dead.extend(item.dead)

    def flush(self, conn: Connection) -> None:
        """Write the slice's calls; the events of calls the store refused become dead letters."""
        refused = self._write(conn)
        for call_id, message in refused.items():  # those events are dead letters (their outcome stays dead)
            for index in self.owners[call_id] + self.repeats.get(call_id, []):
                self.dead.append(event_letter(self.events[index], refusal_reason(call_id, message), call_id))
                self.outcome[index] = _DEAD if self.outcome[index] == _DUPLICATE else self.outcome[index]
        self._start_slice()

    def finish(self, conn: Connection) -> None:
        """Join the batch's parts, write what they completed, the rollups and dead letters; send to the sinks."""
        joined_from: dict[str, tuple[PartKey, dict[str, bytes]]] = {}  # call id -> the parts it was joined from
        for key, (priced, joined) in self.joiner.join(conn, self.parts, self.now).items():
            for record, usage in priced:
                reason = bound_record(record, now=self.now)
                if reason is not None:
                    self.dead.extend(part_letters(key, joined, reason))
                    self._mark_dead(self.part_owners.get(key, ()))
                    continue
                self.calls.price(record, usage)
                self._keep(record, self.part_owners.get(key, []))
                joined_from[record.call_id] = (key, joined)
        refused = self._write(conn)
        for call_id, message in refused.items():
            self.dead.extend(part_letters(*joined_from[call_id], refusal_reason(call_id, message)))
            self._mark_dead(self.owners.get(call_id, ()))
        self.deltas.apply(conn)
        self.calls.dead_letters(conn, self.dead, now=self.now)
        for export in self.exports:  # after the SQL writes, before the commit
            export.send()

    def report(self) -> BatchReport:
        return BatchReport(
            events=len(self.events),
            recorded=self.outcome.count(_RECORDED),
            duplicates=self.outcome.count(_DUPLICATE),
            dead_lettered=self.outcome.count(_DEAD),
            pending=self.outcome.count(_PENDING),
            calls_recorded=len(self.totals.recorded),
            calls_merged=len(self.totals.merged),
            ignored=self.outcome.count(_IGNORED),
        )

    def _keep(self, record: CallRecord, indexes: Sequence[int], repeats: dict[str, list[int]] | None = None) -> None:
        """Keep one record per call id within a slice; a second delivery is a duplicate or completes the first."""
        earlier = self.batch.get(record.call_id)
        if earlier is not None:
            merged = merge_records(earlier, record)
            if merged is None:
                for index in indexes:
                    self.outcome[index] = _best(self.outcome[index], _DUPLICATE)
                if repeats is not None:  # dead-lettered with the call if the store refuses it
                    repeats.setdefault(record.call_id, []).extend(indexes)
                return
            self.calls.price(merged)
            record = merged
        self.batch[record.call_id] = record
        self.owners.setdefault(record.call_id, []).extend(indexes)

    def _write(self, conn: Connection) -> dict[str, str]:
        """Write the slice's calls and mark their events' outcomes; returns the calls the store refused."""
        if not self.batch:
            return {}
        writes = self.calls.record(conn, list(self.batch.values()), now=self.now, deltas=self.deltas)
        for call_id in writes.recorded + writes.merged:
            for index in self.owners.get(call_id, ()):
                self.outcome[index] = _best(self.outcome[index], _RECORDED)
        for call_id in writes.duplicates:
            for index in self.owners.get(call_id, ()):
                self.outcome[index] = _best(self.outcome[index], _DUPLICATE)
        self.totals.add(CallWrites(writes.recorded, writes.merged, writes.duplicates))
        self.calls.export(conn, self.exports, writes, self.batch)
        return writes.refused

    def _mark_dead(self, indexes: Sequence[int]) -> None:
        """Events whose part belonged to a refused call: dead-lettered, unless another call of theirs was kept."""
        for index in indexes:
            if self.outcome[index] == _PENDING:
                self.outcome[index] = _DEAD


def _best(current: str, candidate: str) -> str:
    return candidate if _RANK[candidate] > _RANK[current] else current
