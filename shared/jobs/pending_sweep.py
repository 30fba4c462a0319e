"""Timer `pending_sweep`: record the calls whose parts waited past their join window."""

from __future__ import annotations

from shared.jobs.context import IngestJobContext


def sweep_pending(context: IngestJobContext) -> dict[str, int]:
    settings = context.settings
    windows = {
        "legacy": settings.monitor_join_seconds,
        "monitor": settings.monitor_join_seconds,
        "claim": settings.body_wait_seconds,
    }
    report = context.ingestor.retry_claims()  # bodies that arrived since; then whatever waited too long
    report.add(context.ingestor.sweep_stale(windows))
    return {"recorded": report.calls_recorded, "merged": report.calls_merged}
