"""Calls into the store: masked, merged with what the store already holds, priced again where they changed.

Merging and masking happen here, once, in ingest; `shared.store.writes` only loads and writes the changes
this decides (a new call, or a stored call and what it becomes) and isolates the calls the database refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from shared.ingest.merge import merge_records
from shared.ingest.pricing import PriceBook
from shared.ingest.redaction import redact_dead_letter, redact_record
from shared.ingest.types import CallSink, CallSinkBatch
from shared.store.bounds import plausible_cost
from shared.store.display_names import write_display_names
from shared.store.records import CallRecord, DeadLetter, TokenUsage
from shared.store.rollups import RollupDeltas
from shared.store.sql import SqlStore
from shared.store.writes import CallChange, CallWrites


def record_calls(
    store: SqlStore,
    conn: Connection,
    records: Sequence[CallRecord],
    *,
    now: datetime,
    reprice: Callable[[CallRecord], None],
    store_text: bool = True,
    deltas: RollupDeltas | None = None,
) -> CallWrites:
    """Record new calls, complete known ones, count the rest as duplicates (see `SqlStore.write_calls`).

    The records are masked in place, so the sinks handed them after the write see them masked too.
    """
    duplicates: list[str] = []
    batch: dict[str, CallRecord] = {}
    for record in records:  # the same call twice in one batch: merge before touching the store
        redact_record(record)
        earlier = batch.get(record.call_id)
        if earlier is None:
            batch[record.call_id] = record
            continue
        merged = merge_records(earlier, record)
        if merged is None:
            duplicates.append(record.call_id)
        else:
            reprice(merged)
            batch[record.call_id] = merged
    existing = store.existing_call_ids(conn, list(batch)) if batch else set()
    stored = store.load_calls(conn, sorted(existing), with_payload=True) if existing else {}
    changes: list[CallChange] = []
    for call_id in sorted(existing):
        merged = merge_records(stored[call_id], batch[call_id])
        if merged is None:
            duplicates.append(call_id)
            continue
        reprice(merged)
        changes.append(CallChange(merged, before=stored[call_id]))
    changes += [CallChange(record) for call_id, record in batch.items() if call_id not in existing]
    writes = store.write_calls(conn, changes, now=now, store_text=store_text, deltas=deltas)
    writes.duplicates.extend(duplicates)
    # Names beside ids in reports: the latest name per id, in the same transaction (a refused call names nothing).
    write_display_names(conn, (c.record for c in changes if c.record.call_id not in writes.refused))
    return writes


def record_dead_letters(store: SqlStore, conn: Connection, letters: Sequence[DeadLetter], *, now: datetime) -> int:
    """Keep each distinct bad event once, masked in place (hashed masked, so a retry finds itself)."""
    return store.write_dead_letters(conn, [redact_dead_letter(letter) for letter in letters], now=now)


class CallWriter:
    """What the batch and the sweeps share: pricing a call, recording calls and dead letters in the caller's
    transaction, and handing the recorded calls to the sinks."""

    def __init__(
        self, store: SqlStore, prices: PriceBook, *, store_text: bool = True, sinks: Sequence[CallSink] = ()
    ) -> None:
        self.store = store
        self.prices = prices
        self.store_text = store_text
        self.sinks = tuple(sinks)

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
        if record.status >= 400 and not (
            usage.total_tokens or usage.prompt_tokens or usage.completion_tokens or usage.images or usage.audio_seconds
        ):
            # A refused call (401, 404 for an unknown deployment, 429) used nothing and is not billed: it costs 0,
            # whatever its model, rather than counting as "unpriced" in every report.
            record.cost_usd = 0.0
            return
        record.cost_usd = plausible_cost(
            self.prices.cost_usd(
                record.model, usage, deployment=record.deployment, region=record.region, operation=record.operation
            )
        )

    def record(
        self, conn: Connection, records: Sequence[CallRecord], *, now: datetime, deltas: RollupDeltas | None = None
    ) -> CallWrites:
        return record_calls(
            self.store, conn, records, now=now, reprice=self.price, store_text=self.store_text, deltas=deltas
        )

    def dead_letters(self, conn: Connection, letters: Sequence[DeadLetter], *, now: datetime) -> int:
        return record_dead_letters(self.store, conn, letters, now=now)

    def open_exports(self, now: datetime) -> list[CallSinkBatch]:
        return [sink.open(now) for sink in self.sinks]

    def export(
        self,
        conn: Connection,
        exports: Sequence[CallSinkBatch],
        writes: CallWrites,
        written: dict[str, CallRecord] | None = None,
    ) -> None:
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
