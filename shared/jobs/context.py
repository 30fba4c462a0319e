"""What the timer jobs are given: the settings, the store and the files read at start (and, for the pending
sweep, the ingestor).

A Protocol, so jobs stay below the composition root: `shared.app.wiring.AppContext` satisfies it, and a
test can hand in its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.app.settings import Settings
from shared.reports.ptu import PtuPlan
from shared.reports.teams import Teams
from shared.store.sql import SqlStore

if TYPE_CHECKING:  # the quota and anomaly jobs need not load ingest
    from shared.ingest.batch import Ingestor


class JobContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> SqlStore: ...

    @property
    def teams(self) -> Teams | None: ...  # LEDGER_TEAMS_FILE (team quotas)

    @property
    def ptu_plan(self) -> PtuPlan | None: ...  # LEDGER_PTU_FILE (the monthly chargeback report)


class IngestJobContext(JobContext, Protocol):
    @property
    def ingestor(self) -> Ingestor: ...
