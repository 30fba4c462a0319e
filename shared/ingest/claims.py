"""Claim checks: capture events whose bodies the APIM policy put in Blob Storage (`bodyRef`).

The bodies are fetched before the batch's transaction, never inside it: every reference of the batch is
tried, then tried again with growing pauses until the batch's time budget (a few seconds) is spent, so a
slow blob never stalls a batch for long. An event whose body is still missing waits as a pending part
(kind `claim`, key = the call id); the `pending_sweep` timer tries it again, and after
`LEDGER_BODY_WAIT_SECONDS` records it without that body, flagged `body_missing` (tokens estimated from
the text there is, or brought later by an Azure Monitor LLM log of the same call). Never dropped.

No Azure SDK here: the blob adapter (`shared.adapters.blobs`) is handed in as a `BodyStore`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from shared.ingest.formats.capture import body_refs, capture_record
from shared.store.records import CallRecord, TokenUsage

logger = logging.getLogger(__name__)

KIND = "claim"
EVENT_PART = "event"
MISSING_SETTING = "LEDGER_BODY_STORAGE_URL (or LEDGER_BODY_STORAGE_CONNECTION_STRING)"


class BodyStore(Protocol):
    def fetch(self, ref: str) -> bytes | None: ...


@dataclass
class ClaimCheck:
    """Fetches claim-checked bodies with retries bounded by a time budget (injectable clock and sleep)."""

    store: BodyStore
    budget_seconds: float = 3.0
    first_delay: float = 0.05
    max_delay: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    attempts: int = field(default=0, init=False)  # fetch calls made (for tests and logs)

    def fetch_all(self, refs: Iterable[str], *, budget_seconds: float | None = None) -> dict[str, bytes]:
        """The bodies found among `refs`; missing ones are retried until the budget is spent."""
        pending = set(refs)
        found: dict[str, bytes] = {}
        budget = self.budget_seconds if budget_seconds is None else budget_seconds
        deadline = self.monotonic() + budget
        delay = self.first_delay
        while pending:
            for ref in sorted(pending):
                self.attempts += 1
                try:
                    body = self.store.fetch(ref)
                except Exception as exc:  # noqa: BLE001 - an unreachable store costs time, never the event
                    logger.warning("claim check: fetching %s failed (%s: %s); will retry", ref, type(exc).__name__, exc)
                    body = None
                if body is not None:
                    found[ref] = body
            pending -= found.keys()
            remaining = deadline - self.monotonic()
            if not pending or remaining <= 0:
                break
            self.sleep(min(delay, remaining))
            delay = min(delay * 2, self.max_delay)
        return found


def event_refs(doc: Mapping[str, Any]) -> list[str]:
    return [ref for ref in body_refs(doc) if ref]


def claim_record(
    doc: Mapping[str, Any], bodies: Mapping[str, bytes], *, missing: bool = False
) -> tuple[CallRecord, TokenUsage | None]:
    """The call of a claim-checked event with the bodies found; `missing`: recorded without some of them."""
    request_ref, response_ref = body_refs(doc)
    record, usage = capture_record(
        doc,
        request_body=_text(bodies.get(request_ref)) if request_ref else None,
        response_body=_text(bodies.get(response_ref)) if response_ref else None,
    )
    if missing or any(ref not in bodies for ref in event_refs(doc)):
        record.body_missing = True
    return record, usage


def _text(body: bytes | None) -> str | None:
    return body.decode("utf-8", errors="replace") if body is not None else None


class ClaimResolver:
    """The ingest step that turns claim parts into records when their bodies can be fetched now."""

    kind = KIND

    def __init__(self, check: ClaimCheck) -> None:
        self.check = check

    def resolve(
        self, events: Mapping[str, bytes], *, budget_seconds: float | None = None
    ) -> dict[str, tuple[CallRecord, TokenUsage | None]]:
        """call id -> record, for the claim events (raw bytes by call id) whose bodies all arrived."""
        docs = {key: orjson.loads(raw) for key, raw in events.items()}
        wanted = {ref for doc in docs.values() for ref in event_refs(doc)}
        found = self.check.fetch_all(wanted, budget_seconds=budget_seconds) if wanted else {}
        resolved = {}
        for key, doc in docs.items():
            if all(ref in found for ref in event_refs(doc)):
                resolved[key] = claim_record(doc, found)
        missing = len(docs) - len(resolved)
        if missing:
            logger.info("claim check: %d of %d claim-checked calls still wait for their body", missing, len(docs))
        return resolved


class ClaimAssembler:
    """Pending claim parts: nothing to join; when their wait is over (`force`) they are recorded, flagged."""

    kind = KIND
    redelivery_is_duplicate = True
    keep_parts = False

    def assemble(self, key: str, parts: dict[str, bytes], *, force: bool):
        if not force or EVENT_PART not in parts:
            return None
        doc = orjson.loads(parts[EVENT_PART])
        logger.warning(
            "claim check: call %s recorded without its claim-checked body (%s never arrived)",
            key,
            ", ".join(event_refs(doc)),
        )
        return [claim_record(doc, {}, missing=True)]
