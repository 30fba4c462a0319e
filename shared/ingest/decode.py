"""Raw event bytes -> what a format makes of them; whatever cannot be read becomes a dead letter naming why."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from shared.ingest.types import Decoded, EventFormat, IncomingEvent, Salvager
from shared.ingest.values import EventError
from shared.store.bounds import bound_record, part_problem
from shared.store.records import DeadLetter

logger = logging.getLogger(__name__)


class EventDecoder:
    def __init__(self, formats: Sequence[EventFormat], salvager: Salvager | None = None) -> None:
        self.formats = tuple(formats)
        self.salvager = salvager

    def decode(self, event: IncomingEvent) -> Decoded:
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
                    return Decoded(
                        dead=[DeadLetter(raw=raw, reason=str(exc), event_id=_event_id(doc), source=event.source)]
                    )
                except Exception as exc:  # a parser bug must cost one event, never the batch
                    logger.exception("unexpected error decoding %s event %s", event_format.name, _event_id(doc))
                    reason = f"{event_format.name} event could not be read: {type(exc).__name__}: {exc}"
                    return Decoded(
                        dead=[DeadLetter(raw=raw, reason=reason, event_id=_event_id(doc), source=event.source)]
                    )
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


def refuse_unstorable(item: Decoded, event: IncomingEvent, now: datetime) -> None:
    """Calls and parts of one event that no store can keep become its dead letters (see `shared.store.bounds`)."""
    records = []
    for record, usage in item.records:
        reason = bound_record(record, now=now)
        if reason is None:
            records.append((record, usage))
        else:
            item.dead.append(event_letter(event, reason, record.call_id))
    parts = []
    for part in item.parts:
        reason = part_problem(part.kind, part.key, part.name)
        if reason is None:
            parts.append(part)
        else:
            item.dead.append(event_letter(event, reason, part.key))
    item.records, item.parts = records, parts


def event_letter(event: IncomingEvent, reason: str, call_id: str | None) -> DeadLetter:
    return DeadLetter(raw=event.body, reason=reason, event_id=call_id, source=event.source)


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
