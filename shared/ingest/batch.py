"""The ingest use case: a batch of raw Event Hubs events becomes recorded calls, parts and dead letters.

Every event ends as exactly one of: recorded (it made or completed a call), duplicate (its call was already
known), pending (a part waiting for its partner) or dead-lettered (raw bytes + a reason). One bad event never
fails the batch: a call no store can keep is dead-lettered before any store sees it (`shared.store.bounds`), and one
the database still refuses is isolated and dead-lettered with the database's message (`store.writes`). A store
failure does fail the batch (the whole batch is one transaction, so the host's retry starts clean and, being
idempotent, never counts twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol, Sequence

import orjson

from shared.store.bounds import bound_record, part_problem, plausible_cost
from shared.ingest.formats.values import EventError
from shared.ingest.merge import merge_records
from shared.ingest.pricing import PriceBook
from shared.store.records import CallRecord, DeadLetter, TokenUsage
from shared.store.sql import SqlStore
from shared.store.times import naive_utc
from shared.store.rollups import RollupDeltas
from shared.store.writes import CallWrites, PartKey

logger = logging.getLogger(__name__)


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


PricedRecord = tuple[CallRecord, TokenUsage | None]
Joined = tuple[list[PricedRecord], dict[str, bytes]]  # the calls assembled from parts, and the parts (name -> bytes)


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


class CallSinkBatch(Protocol):
    def add(self, records: Sequence[CallRecord]) -> None: ...

    def send(self) -> None: ...


class CallSink(Protocol):
    """Another store that gets the calls a transaction recorded or merged (e.g. `shared.store.kusto_sink.KustoExport`).

    `open` per transaction, `add` after each write, `send` after the SQL writes and before the commit: a
    failure to send raises, the transaction rolls back and the host retries the batch.
    """

    def open(self, ingested_at: datetime) -> CallSinkBatch: ...


class Salvager(Protocol):
    def salvage(self, raw: bytes, reason: str) -> PricedRecord | None: ...


class ClaimResolver(Protocol):
    """Fetches claim-checked bodies (see `shared.ingest.claims`): call id -> record for the events it could complete."""

    kind: str

    def resolve(self, events: dict[str, bytes], *, budget_seconds: float | None = None) -> dict[str, PricedRecord]: ...


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

    def add(self, other: "BatchReport") -> None:
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
        claims: ClaimResolver | None = None,
        store_text: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        sinks: Sequence[CallSink] = (),
        hourly_sums_days: int = 0,
    ) -> None:
        self.hourly_sums_days = hourly_sums_days  # see RollupDeltas
        self.store = store
        self.prices = prices
        self.formats = tuple(formats)
        self.assemblers = {assembler.kind: assembler for assembler in assemblers}
        self.salvager = salvager
        self.claims = claims
        self.store_text = store_text
        self.clock = clock
        self.sinks = tuple(sinks)
        self.observers: list[Callable[[BatchReport], None]] = []  # e.g. the local host's replay totals
        self.slice_size = 100  # events decoded and written at a time inside the batch's transaction

    def price(self, record: CallRecord, usage: TokenUsage | None = None) -> None:
        if usage is None or usage.estimated != record.tokens_estimated or usage.total_tokens != record.total_tokens:
            usage = TokenUsage(
                prompt_tokens=record.prompt_tokens,
                completion_tokens=record.completion_tokens,
                total_tokens=record.total_tokens,
                cached_tokens=record.cached_tokens,
                reasoning_tokens=record.reasoning_tokens,
                images=usage.images if usage else 0,
                audio_seconds=usage.audio_seconds if usage else None,
            )
        record.cost_usd = plausible_cost(self.prices.cost_usd(
            record.model, usage, deployment=record.deployment, region=record.region, operation=record.operation
        ))

    def _reprice(self, record: CallRecord) -> None:
        self.price(record)

    # -- decoding ---------------------------------------------------------------------------------------

    def decode_event(self, event: IncomingEvent) -> Decoded:
        """Never raises: whatever cannot be read becomes a dead letter naming why."""
        raw = event.body
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._undecodable(event, f"not valid JSON ({exc}); {len(raw)} bytes")
        for event_format in self.formats:
            if event_format.matches(doc):
                try:
                    decoded = event_format.decode(doc, raw)
                except EventError as exc:
                    return Decoded(dead=[DeadLetter(raw=raw, reason=str(exc), event_id=_event_id(doc), source=event.source)])
                except Exception as exc:  # a parser bug must cost one event, never the batch
                    logger.exception("unexpected error decoding %s event %s", event_format.name, _event_id(doc))
                    reason = f"{event_format.name} event could not be read: {type(exc).__name__}: {exc}"
                    return Decoded(dead=[DeadLetter(raw=raw, reason=reason, event_id=_event_id(doc), source=event.source)])
                for letter in decoded.dead:
                    letter.source = letter.source or event.source
                return decoded
        kinds = ", ".join(f.name for f in self.formats)
        reason = f"not an event this ledger reads (expected one of: {kinds}); top level is {_shape(doc)}"
        return Decoded(dead=[DeadLetter(raw=raw, reason=reason, event_id=_event_id(doc), source=event.source)])

    def _undecodable(self, event: IncomingEvent, reason: str) -> Decoded:
        letter = DeadLetter(raw=event.body, reason=reason, source=event.source)
        if self.salvager is not None:
            salvaged = self.salvager.salvage(event.body, reason)
            if salvaged is not None:
                record = salvaged[0]
                letter.event_id = letter.truncated_call_id = record.call_id
                letter.reason = f"event cut short, call {record.call_id} recorded from what could be read; {reason}"
                return Decoded(records=[salvaged], dead=[letter])
        return Decoded(dead=[letter])

    # -- the batch --------------------------------------------------------------------------------------

    def ingest_batch(self, events: Sequence[IncomingEvent]) -> BatchReport:
        """One transaction for the batch, filled slice by slice so only one slice's text is in memory."""
        outcome = [_DEAD] * len(events)
        parts: list[Part] = []
        part_owners: dict[PartKey, list[int]] = {}
        dead: list[DeadLetter] = []
        early = self._decode_claim_checked(events)  # network I/O: before the transaction, never inside it
        now = naive_utc(self.clock())
        totals = CallWrites()
        deltas = RollupDeltas(self.hourly_sums_days)  # rollup changes of every slice, applied once before the commit
        exports = [sink.open(now) for sink in self.sinks]
        with self.store.write() as conn:
            for start in range(0, len(events), self.slice_size):
                batch: dict[str, CallRecord] = {}
                owners: dict[str, list[int]] = {}  # call id -> events of this slice that carry it
                repeats: dict[str, list[int]] = {}  # call id -> events of this slice that only repeat it
                for index in range(start, min(start + self.slice_size, len(events))):
                    item = early.pop(index, None) or self.decode_event(events[index])
                    _refuse_unstorable(item, events[index], now)
                    outcome[index] = _PENDING if item.parts else _IGNORED if not (item.records or item.dead) else _DEAD
                    for record, usage in item.records:
                        self.price(record, usage)
                        self._collect(batch, owners, outcome, record, [index], repeats)
                    for part in item.parts:
                        parts.append(part)
                        part_owners.setdefault((part.kind, part.key), []).append(index)
                    dead.extend(item.dead)
                # Earlier slices are in the same transaction, so a repeat across slices is found as a duplicate.
                refused = self._write(conn, batch, owners, outcome, now, totals, deltas, exports=exports)
                for call_id, message in refused.items():  # those events are dead letters (their outcome stays dead)
                    for index in owners[call_id] + repeats.get(call_id, []):
                        dead.append(_event_letter(events[index], _refusal_reason(call_id, message), call_id))
                        outcome[index] = _DEAD if outcome[index] == _DUPLICATE else outcome[index]
            batch, owners = {}, {}
            joined_from: dict[str, tuple[PartKey, dict[str, bytes]]] = {}  # call id -> the parts it was joined from
            for key, (priced, joined) in self._join_parts(conn, parts, now).items():
                for record, usage in priced:
                    reason = bound_record(record, now=now)
                    if reason is not None:
                        dead.extend(_part_letters(key, joined, reason))
                        _mark_dead(outcome, part_owners.get(key, ()))
                        continue
                    self.price(record, usage)
                    self._collect(batch, owners, outcome, record, part_owners.get(key, []))
                    joined_from[record.call_id] = (key, joined)
            refused = self._write(conn, batch, owners, outcome, now, totals, deltas, exports=exports)
            for call_id, message in refused.items():
                dead.extend(_part_letters(*joined_from[call_id], _refusal_reason(call_id, message)))
                _mark_dead(outcome, owners.get(call_id, ()))
            deltas.apply(conn)
            self.store.write_dead_letters(conn, dead, now=now)
            for export in exports:  # after the SQL writes, before the commit
                export.send()
        report = BatchReport(
            events=len(events),
            recorded=outcome.count(_RECORDED),
            duplicates=outcome.count(_DUPLICATE),
            dead_lettered=outcome.count(_DEAD),
            pending=outcome.count(_PENDING),
            calls_recorded=len(totals.recorded),
            calls_merged=len(totals.merged),
            ignored=outcome.count(_IGNORED),
        )
        logger.info(
            "ingested %d events: %d recorded, %d duplicates, %d pending, %d dead-lettered (%d new calls, %d merged)",
            report.events, report.recorded, report.duplicates, report.pending, report.dead_lettered,
            report.calls_recorded, report.calls_merged,
        )
        for observer in self.observers:
            observer(report)
        return report

    def _write(self, conn, batch: dict[str, CallRecord], owners: dict[str, list[int]], outcome: list[str],
               now: datetime, totals: CallWrites, deltas: RollupDeltas,
               exports: Sequence[CallSinkBatch] = ()) -> dict[str, str]:
        """Write the batch's calls and mark their events' outcomes; returns the calls the store refused."""
        if not batch:
            return {}
        writes = self.store.write_calls(conn, list(batch.values()), now=now, reprice=self._reprice,
                                        store_text=self.store_text, deltas=deltas)
        for call_id in writes.recorded + writes.merged:
            for index in owners.get(call_id, ()):
                outcome[index] = _best(outcome[index], _RECORDED)
        for call_id in writes.duplicates:
            for index in owners.get(call_id, ()):
                outcome[index] = _best(outcome[index], _DUPLICATE)
        totals.recorded.extend(writes.recorded)
        totals.merged.extend(writes.merged)
        totals.duplicates.extend(writes.duplicates)
        self._export(conn, exports, writes, batch)
        return writes.refused

    def _export(self, conn, exports: Sequence[CallSinkBatch], writes: CallWrites,
                written: dict[str, CallRecord] | None = None) -> None:
        """Give the sinks the calls as the store now has them: new ones as written, merged ones re-read."""
        if not exports or not (writes.recorded or writes.merged):
            return
        # A merged call's record in `written` is the incoming piece; the store holds the merge.
        known = {call_id: written[call_id] for call_id in writes.recorded if call_id in written} if written else {}
        reread = [call_id for call_id in writes.recorded if call_id not in known] + writes.merged
        stored = self.store.load_calls(conn, reread, with_payload=self.store_text) if reread else {}
        records = [known.get(call_id) or stored[call_id] for call_id in writes.recorded + writes.merged]
        for export in exports:
            export.add(records)

    def _decode_claim_checked(self, events: Sequence[IncomingEvent]) -> dict[int, Decoded]:
        """Decode, and fetch the bodies of, the events that name a claim-checked body (cheap byte test first)."""
        if self.claims is None:
            return {}
        early = {i: self.decode_event(e) for i, e in enumerate(events) if b'"bodyRef"' in e.body}
        self._resolve_claims(list(early.values()))
        return early

    def _resolve_claims(self, decoded: list[Decoded]) -> None:
        """Claim parts whose bodies can be fetched now become records; the others stay parts (pending)."""
        kind = self.claims.kind
        events = {part.key: part.payload for item in decoded for part in item.parts if part.kind == kind}
        if not events:
            return
        resolved = self.claims.resolve(events)
        for item in decoded:
            for part in [p for p in item.parts if p.kind == kind and p.key in resolved]:
                item.parts.remove(part)
                item.records.append(resolved[part.key])

    def retry_claims(self, *, limit: int = 1000) -> BatchReport:
        """Timer `pending_sweep`: fetch the bodies of waiting claim-checked calls again; record those found."""
        report = BatchReport()
        if self.claims is None or self.claims.kind not in self.assemblers:
            return report
        kind = self.claims.kind
        with self.store.read() as conn:
            keys = self.store.stale_part_keys(conn, kind=kind, older_than=datetime.max, limit=limit)
            stored = self.store.load_parts(conn, [(kind, key) for key in keys]) if keys else {}
        events = {key: payload for (_, key), parts in stored.items() for _, (_, payload) in sorted(parts.items())}
        if not events:
            return report
        resolved = self.claims.resolve(events)
        if not resolved:
            return report
        now = naive_utc(self.clock())
        found = {(kind, key): ([priced], {name: payload for name, (_, payload) in stored[(kind, key)].items()})
                 for key, priced in resolved.items()}
        with self.store.write() as conn:
            writes = self._record_parts(conn, found, now)
        report.calls_recorded, report.calls_merged = len(writes.recorded), len(writes.merged)
        logger.info("claim check retry: %d of %d waiting calls got their body", len(resolved), len(events))
        return report

    def _record_parts(self, conn, assembled: dict[PartKey, Joined], now: datetime) -> CallWrites:
        """The sweeps' common end: price and write the calls, drop their parts, and hand the calls (re-read
        from the store) to the sinks, all inside the caller's transaction. A call that cannot be stored
        leaves its parts as dead letters."""
        letters: list[DeadLetter] = []
        records: list[CallRecord] = []
        joined_from: dict[str, tuple[PartKey, dict[str, bytes]]] = {}
        for key, (priced, joined) in assembled.items():
            for record, usage in priced:
                reason = bound_record(record, now=now)
                if reason is not None:
                    letters.extend(_part_letters(key, joined, reason))
                    continue
                self.price(record, usage)
                records.append(record)
                joined_from[record.call_id] = (key, joined)
        writes = self.store.write_calls(conn, records, now=now, reprice=self._reprice, store_text=self.store_text)
        for call_id, message in writes.refused.items():
            letters.extend(_part_letters(*joined_from[call_id], _refusal_reason(call_id, message)))
        self.store.write_dead_letters(conn, letters, now=now)
        self.store.delete_parts(conn, list(assembled))
        exports = [sink.open(now) for sink in self.sinks]
        self._export(conn, exports, writes)
        for export in exports:
            export.send()
        return writes

    def _collect(self, batch: dict[str, CallRecord], owners: dict[str, list[int]], outcome: list[str],
                 record: CallRecord, indexes: Sequence[int], repeats: dict[str, list[int]] | None = None) -> None:
        """Keep one record per call id within a batch; a second delivery is a duplicate or completes the first."""
        earlier = batch.get(record.call_id)
        if earlier is not None:
            merged = merge_records(earlier, record)
            if merged is None:
                for index in indexes:
                    outcome[index] = _best(outcome[index], _DUPLICATE)
                if repeats is not None:  # dead-lettered with the call if the store refuses it
                    repeats.setdefault(record.call_id, []).extend(indexes)
                return
            self.price(merged)
            record = merged
        batch[record.call_id] = record
        owners.setdefault(record.call_id, []).extend(indexes)

    def _join_parts(self, conn, parts: list[Part], now: datetime) -> dict[PartKey, Joined]:
        """Assemble every call whose parts are now complete (with the parts it was joined from); store the
        rest to wait for their partners."""
        if not parts:
            return {}
        by_key: dict[PartKey, dict[str, bytes]] = {}
        for part in parts:
            by_key.setdefault((part.kind, part.key), {}).setdefault(part.name, part.payload)
        stored = self.store.load_parts(conn, by_key)
        # A part of a call that is already recorded is a redelivery: assemble what there is, and the merge
        # finds it a duplicate instead of leaving it to wait for a partner that was consumed long ago.
        recorded = self.store.existing_call_ids(conn, [key for kind, key in by_key if self.assemblers[kind].redelivery_is_duplicate])
        assembled: dict[PartKey, Joined] = {}
        waiting: list[tuple[str, str, str, datetime, bytes]] = []
        kept: set[PartKey] = set()
        for key, fresh in by_key.items():
            assembler = self.assemblers[key[0]]
            joined = {name: payload for name, (_, payload) in stored.get(key, {}).items()} | fresh
            result = assembler.assemble(key[1], joined, force=key[1] in recorded)
            if result is None or assembler.keep_parts:
                waiting.extend((key[0], key[1], name, now, payload) for name, payload in fresh.items())
                kept.add(key)
            if result is not None:
                assembled[key] = (result, joined)
        self.store.delete_parts(conn, [key for key in assembled if key in stored and key not in kept])
        self.store.save_parts(conn, waiting)
        return assembled

    def sweep(self, kind: str, *, older_than: datetime) -> BatchReport:
        """Record the calls whose parts waited past their join window, with what arrived (timer `pending_sweep`)."""
        assembler = self.assemblers[kind]
        now = naive_utc(self.clock())
        report = BatchReport()
        with self.store.write() as conn:
            keys = self.store.stale_part_keys(conn, kind=kind, older_than=older_than)
            if not keys:
                return report
            stored = self.store.load_parts(conn, [(kind, key) for key in keys])
            assembled = {}
            for part_key, parts in stored.items():
                joined = {name: payload for name, (_, payload) in parts.items()}
                assembled[part_key] = (assembler.assemble(part_key[1], joined, force=True) or [], joined)
            writes = self._record_parts(conn, assembled, now)
        report.calls_recorded, report.calls_merged = len(writes.recorded), len(writes.merged)
        logger.info("swept %d waiting %s calls: %d recorded, %d merged", len(keys), kind, len(writes.recorded), len(writes.merged))
        return report

    def sweep_stale(self, windows: dict[str, float]) -> BatchReport:
        """Sweep every kind of part whose join window (seconds, by kind) has passed."""
        now = self.clock()
        report = BatchReport()
        for kind in self.assemblers:
            report.add(self.sweep(kind, older_than=naive_utc(now - timedelta(seconds=windows.get(kind, 300)))))
        return report


def _refuse_unstorable(item: Decoded, event: IncomingEvent, now: datetime) -> None:
    """Calls and parts of one event that no store can keep become its dead letters (see `shared.store.bounds`)."""
    records = []
    for record, usage in item.records:
        reason = bound_record(record, now=now)
        if reason is None:
            records.append((record, usage))
        else:
            item.dead.append(_event_letter(event, reason, record.call_id))
    parts = []
    for part in item.parts:
        reason = part_problem(part.kind, part.key, part.name)
        if reason is None:
            parts.append(part)
        else:
            item.dead.append(_event_letter(event, reason, part.key))
    item.records, item.parts = records, parts


def _refusal_reason(call_id: str, message: str) -> str:
    return f"the store refused call {call_id}: {message}"


def _event_letter(event: IncomingEvent, reason: str, call_id: str | None) -> DeadLetter:
    return DeadLetter(raw=event.body, reason=reason, event_id=call_id, source=event.source)


def _part_letters(key: PartKey, parts: dict[str, bytes], reason: str) -> list[DeadLetter]:
    """A call joined from parts that cannot be stored: each part kept as a dead letter of its own."""
    kind, call_key = key
    return [DeadLetter(raw=payload, reason=reason, event_id=call_key, source=f"{kind} part {name}")
            for name, payload in sorted(parts.items())]


def _mark_dead(outcome: list[str], indexes) -> None:
    """Events whose part belonged to a refused call: dead-lettered, unless another call of theirs was kept."""
    for index in indexes:
        if outcome[index] == _PENDING:
            outcome[index] = _DEAD


def _best(current: str, candidate: str) -> str:
    return candidate if _RANK[candidate] > _RANK[current] else current


def _event_id(doc: Any) -> str | None:
    if isinstance(doc, dict):
        for name in ("id", "message-id", "correlationId"):
            if isinstance(doc.get(name), (str, int)):
                return str(doc[name])[:64]
    return None


def _shape(doc: Any) -> str:
    if isinstance(doc, dict):
        keys = ", ".join(sorted(map(str, doc))[:8])
        return f"an object with keys [{keys}]"
    return f"a JSON {type(doc).__name__}"
