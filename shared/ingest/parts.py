"""Calls that arrive in parts: joined when their parts are complete, stored to wait otherwise, and swept
(recorded with what arrived) once their join window has passed; claim-checked bodies fetched again.

Stored parts are masked (`redact_bytes` keeps them parseable), like every other text ingest keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from shared.ingest.calls import CallWriter
from shared.ingest.redaction import redact_bytes
from shared.ingest.types import BatchReport, ClaimResolving, Joined, Part, PartAssembler, PartKey
from shared.store.bounds import bound_record
from shared.store.records import CallRecord, DeadLetter
from shared.store.sql import SqlStore
from shared.store.times import naive_utc
from shared.store.writes import CallWrites

logger = logging.getLogger(__name__)


class PartJoiner:
    def __init__(
        self,
        store: SqlStore,
        calls: CallWriter,
        assemblers: Sequence[PartAssembler],
        *,
        claims: ClaimResolving | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.calls = calls
        self.assemblers = {assembler.kind: assembler for assembler in assemblers}
        self.claims = claims
        self.clock = clock

    def join(self, conn: Connection, parts: list[Part], now: datetime) -> dict[PartKey, Joined]:
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
        recorded = self.store.existing_call_ids(
            conn, [key for kind, key in by_key if self.assemblers[kind].redelivery_is_duplicate]
        )
        assembled: dict[PartKey, Joined] = {}
        waiting: list[tuple[str, str, str, datetime, bytes]] = []
        kept: set[PartKey] = set()
        for key, fresh in by_key.items():
            assembler = self.assemblers[key[0]]
            joined = {name: payload for name, (_, payload) in stored.get(key, {}).items()} | fresh
            result = assembler.assemble(key[1], joined, force=key[1] in recorded)
            if result is None or assembler.keep_parts:
                waiting.extend((key[0], key[1], name, now, redact_bytes(payload)) for name, payload in fresh.items())
                kept.add(key)
            if result is not None:
                assembled[key] = (result, joined)
        self.store.delete_parts(conn, [key for key in assembled if key in stored and key not in kept])
        self.store.save_parts(conn, waiting)
        return assembled

    def record(self, conn: Connection, assembled: Mapping[PartKey, Joined], now: datetime) -> CallWrites:
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
                    letters.extend(part_letters(key, joined, reason))
                    continue
                self.calls.price(record, usage)
                records.append(record)
                joined_from[record.call_id] = (key, joined)
        writes = self.calls.record(conn, records, now=now)
        for call_id, message in writes.refused.items():
            letters.extend(part_letters(*joined_from[call_id], refusal_reason(call_id, message)))
        self.calls.dead_letters(conn, letters, now=now)
        self.store.delete_parts(conn, list(assembled))
        exports = self.calls.open_exports(now)
        self.calls.export(conn, exports, writes)
        for export in exports:
            export.send()
        return writes

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
            assembled: dict[PartKey, Joined] = {}
            for part_key, parts in stored.items():
                joined = {name: payload for name, (_, payload) in parts.items()}
                assembled[part_key] = (assembler.assemble(part_key[1], joined, force=True) or [], joined)
            writes = self.record(conn, assembled, now)
        report.calls_recorded, report.calls_merged = len(writes.recorded), len(writes.merged)
        logger.info(
            "swept %d waiting %s calls: %d recorded, %d merged",
            len(keys),
            kind,
            len(writes.recorded),
            len(writes.merged),
        )
        return report

    def sweep_stale(self, windows: Mapping[str, float]) -> BatchReport:
        """Sweep every kind of part whose join window (seconds, by kind) has passed."""
        now = self.clock()
        report = BatchReport()
        for kind in self.assemblers:
            report.add(self.sweep(kind, older_than=naive_utc(now - timedelta(seconds=windows.get(kind, 300)))))
        return report

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
        found = {
            (kind, key): ([priced], {name: payload for name, (_, payload) in stored[(kind, key)].items()})
            for key, priced in resolved.items()
        }
        with self.store.write() as conn:
            writes = self.record(conn, found, now)
        report.calls_recorded, report.calls_merged = len(writes.recorded), len(writes.merged)
        logger.info("claim check retry: %d of %d waiting calls got their body", len(resolved), len(events))
        return report


def refusal_reason(call_id: str, message: str) -> str:
    return f"the store refused call {call_id}: {message}"


def part_letters(key: PartKey, parts: dict[str, bytes], reason: str) -> list[DeadLetter]:
    """A call joined from parts that cannot be stored: each part kept as a dead letter of its own."""
    kind, call_key = key
    return [
        DeadLetter(raw=payload, reason=reason, event_id=call_key, source=f"{kind} part {name}")
        for name, payload in sorted(parts.items())
    ]
