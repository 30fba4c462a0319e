"""The input formats ingest understands, as objects the ingest use case can hold in a list.

A new format is a class with `matches`/`decode` (and an assembler when its calls arrive in parts), added to
`default_formats`; nothing else in the pipeline changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from shared.ingest import claims
from shared.ingest.formats import capture, legacy, monitor
from shared.ingest.types import Decoded, EventFormat, Part, PartAssembler, PricedRecord

logger = logging.getLogger(__name__)


class CaptureFormat:
    """One capture/v1 event, one call. An event whose body was claim-checked (`bodyRef`, no body) becomes a
    `claim` part when a body store is configured (the claim-check step fetches it before the transaction);
    without a store it is recorded without that body, flagged `body_missing`, with a warning."""

    name = "aoai-ledger/capture/v1"

    def __init__(self, *, claim_checks: bool = False) -> None:
        self.claim_checks = claim_checks

    def matches(self, doc: Any) -> bool:
        return capture.is_capture(doc)

    def decode(self, doc: Any, raw: bytes) -> Decoded:
        call_id = capture.require_identity(doc)
        refs = [ref for ref in capture.body_refs(doc) if ref]
        if refs and self.claim_checks:
            return Decoded(parts=[Part(kind=claims.KIND, key=call_id, name=claims.EVENT_PART, payload=raw)])
        record, usage = capture.capture_record(doc)
        if refs:
            logger.warning(
                "call %s has claim-checked bodies (%s) but no body store is configured: set %s; "
                "recorded without them, flagged body_missing",
                call_id,
                ", ".join(refs),
                claims.MISSING_SETTING,
            )
            record.body_missing = True
        return Decoded(records=[(record, usage)])


class LegacySampleFormat:
    name = "openai-python-enterprise-logging Request/Response"

    def matches(self, doc: Any) -> bool:
        return legacy.is_legacy(doc)

    def decode(self, doc: Any, raw: bytes) -> Decoded:
        message_id, half = legacy.legacy_part(doc)
        return Decoded(parts=[Part(kind=legacy.KIND, key=message_id, name=half, payload=raw)])


class LegacySampleAssembler:
    kind = legacy.KIND
    redelivery_is_duplicate = True
    keep_parts = False

    def assemble(self, key: str, parts: dict[str, bytes], *, force: bool) -> list[PricedRecord] | None:
        request, response = parts.get(legacy.REQUEST), parts.get(legacy.RESPONSE)
        if not force and (request is None or response is None):
            return None
        return [
            legacy.legacy_record(
                key,
                orjson.loads(request) if request else None,
                orjson.loads(response) if response else None,
            )
        ]


def default_formats(*, claim_checks: bool = False) -> Sequence[EventFormat]:
    return (CaptureFormat(claim_checks=claim_checks), LegacySampleFormat(), monitor.MonitorFormat())


def default_assemblers() -> Sequence[PartAssembler]:
    return (LegacySampleAssembler(), monitor.MonitorAssembler(), claims.ClaimAssembler())
