"""The input formats ingest understands, as objects the ingest use case can hold in a list.

A new format is a class with `matches`/`decode` (and an assembler when its calls arrive in parts), added to
`default_formats`; nothing else in the pipeline changes.
"""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from ..ingest import Decoded, EventFormat, Part, PartAssembler, PricedRecord
from . import capture, legacy


class CaptureFormat:
    name = "aoai-ledger/capture/v1"

    def matches(self, doc: Any) -> bool:
        return capture.is_capture(doc)

    def decode(self, doc: Any, raw: bytes) -> Decoded:
        return Decoded(records=[capture.capture_record(doc)])


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

    def assemble(self, key: str, parts: dict[str, bytes], *, force: bool) -> list[PricedRecord] | None:
        request, response = parts.get(legacy.REQUEST), parts.get(legacy.RESPONSE)
        if not force and (request is None or response is None):
            return None
        return [legacy.legacy_record(
            key,
            orjson.loads(request) if request else None,
            orjson.loads(response) if response else None,
        )]


def default_formats() -> Sequence[EventFormat]:
    return (CaptureFormat(), LegacySampleFormat())


def default_assemblers() -> Sequence[PartAssembler]:
    return (LegacySampleAssembler(),)
