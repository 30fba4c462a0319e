"""Timer `ptu_refresh`: keeps the PTU read model (`reports.ptu_days`) built for every closed day of the plan.

Each run builds the entries' closed whole days that are missing or stale (a late call or a merge moved the day's
change count, or the plan prices the entry differently now), one day per transaction so ingest writes between
them, then their weeks (Monday to Sunday, summed from the days), and forgets entries the plan no longer has.
Reports never wait for it: a day it has not built yet is computed live, exactly, only slower. Without
LEDGER_PTU_FILE it does nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.jobs.context import JobContext
from shared.reports.ptu import PtuPlan
from shared.reports.ptu_days_build import Refreshed, build_day, build_week, drop_other_entries, stale_days
from shared.store.sql import SqlStore

logger = logging.getLogger(__name__)


def refresh_ptu_days(store: SqlStore, plan: PtuPlan | None, now: datetime | None = None) -> Refreshed:
    now = now or datetime.now(UTC)
    done = Refreshed()
    if plan is None:
        return done
    with store.write() as conn:
        drop_other_entries(conn, plan)
    for entry in plan.entries:
        with store.read() as conn:
            days, weeks, fresh = stale_days(conn, entry, now)
        done.fresh += fresh
        for day in days:
            with store.write() as conn:
                if build_day(conn, entry, day):
                    done.built += 1
                else:
                    done.moved += 1
        for monday in weeks:  # from the days just built
            with store.write() as conn:
                if build_week(conn, entry, monday):
                    done.weeks += 1
    return done


def run_ptu_refresh(context: JobContext, now: datetime | None = None) -> Refreshed:
    done = refresh_ptu_days(context.store, context.ptu_plan, now)
    logger.info("ptu_refresh: %s", done.as_json())
    return done
