"""Timer `retention_purge`: text older than LEDGER_TEXT_RETENTION_DAYS goes, the numbers stay.

Works in bounded batches, each its own short transaction (ingest writes between them, so no long lock on the
ledger): payload rows older than the limit get their text set to NULL and `purged_at` stamped; resolved dead
letters older than LEDGER_DEADLETTER_RETENTION_DAYS keep their reason and status but lose their raw bytes.
Already purged rows are never selected again, so a second run in a day finds nothing (safe to run twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from shared.jobs.context import JobContext
from shared.reports.erasure import purge_payloads
from shared.store.schema import call_payloads, dead_letters
from shared.store.times import naive_utc

logger = logging.getLogger(__name__)

BATCH = 500  # rows per transaction
PURGED_RAW = b""  # a resolved letter's raw bytes once purged (the column is NOT NULL)


@dataclass
class Purged:
    calls: int = 0
    dead_letters: int = 0
    batches: int = 0


def purge_expired(
    store,
    *,
    text_days: int,
    deadletter_days: int,
    now: datetime | None = None,
    batch: int = BATCH,
    lock_wait: float = 5.0,
) -> Purged:
    now = now or datetime.now(UTC)
    purged = Purged()
    if text_days > 0:
        cutoff = naive_utc(now - timedelta(days=text_days))
        while True:
            with store.write(lock_wait=lock_wait) as conn:
                ids = list(
                    conn.execute(
                        select(call_payloads.c.call_id)
                        .where(call_payloads.c.time < cutoff, call_payloads.c.purged_at.is_(None))
                        .limit(batch)
                    ).scalars()
                )
                purged.calls += purge_payloads(conn, ids, now) if ids else 0
            purged.batches += 1
            if len(ids) < batch:
                break
    if deadletter_days > 0:
        cutoff = naive_utc(now - timedelta(days=deadletter_days))
        while True:
            with store.write(lock_wait=lock_wait) as conn:
                ids = list(
                    conn.execute(
                        select(dead_letters.c.id)
                        .where(
                            dead_letters.c.status == "resolved",
                            dead_letters.c.resolved_at < cutoff,
                            dead_letters.c.raw != PURGED_RAW,
                        )
                        .limit(batch)
                    ).scalars()
                )
                if ids:
                    purged.dead_letters += conn.execute(
                        update(dead_letters).where(dead_letters.c.id.in_(ids)).values(raw=PURGED_RAW)
                    ).rowcount
            purged.batches += 1
            if len(ids) < batch:
                break
    logger.info(
        "retention_purge: text of %d calls and raw bytes of %d resolved dead letters purged in %d batches",
        purged.calls,
        purged.dead_letters,
        purged.batches,
    )
    return purged


def run_retention_purge(context: JobContext) -> Purged:
    settings = context.settings
    return purge_expired(
        context.store,
        text_days=settings.text_retention_days,
        deadletter_days=settings.deadletter_retention_days,
        lock_wait=settings.api_write_wait_seconds,
    )
