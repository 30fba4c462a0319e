"""The one place that picks concrete adapters from Settings, once per process.

Triggers ask for `app_context()`; tests build their own `AppContext` over a temporary store. Azure SDK
adapters are imported only when their setting is present, which keeps a cold start cheap.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property

from shared.api.auth import Authenticator
from shared.app.settings import Settings, load_settings
from shared.ingest.batch import Ingestor
from shared.ingest.claims import ClaimCheck, ClaimResolver
from shared.ingest.formats.registry import default_assemblers, default_formats
from shared.ingest.formats.salvage import CaptureSalvager
from shared.ingest.pricing import PriceBook
from shared.ingest.redaction import configure_redaction, install_log_redaction
from shared.reports.ptu import PtuPlan, load_ptu_plan
from shared.reports.teams import Teams, load_teams
from shared.store.kusto_sink import MAPPING as KUSTO_MAPPING
from shared.store.kusto_sink import TABLE as KUSTO_TABLE
from shared.store.kusto_sink import KustoExport
from shared.store.sql import SqlStore

logger = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    store: SqlStore
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    teams: Teams | None = field(init=False)  # LEDGER_TEAMS_FILE, read once: a bad file stops the start
    ptu_plan: PtuPlan | None = field(init=False)  # LEDGER_PTU_FILE, read once: a bad file stops the start

    def __post_init__(self) -> None:
        install_log_redaction()  # every trigger and the local host build a context before they log
        configure_redaction(self.settings.redact)  # LEDGER_REDACT, for every write this process makes
        self.teams = load_teams(self.settings.teams_file)
        self.ptu_plan = load_ptu_plan(self.settings.ptu_file)

    @cached_property
    def authenticator(self) -> Authenticator:
        return Authenticator(self.settings)

    @cached_property
    def prices(self) -> PriceBook:
        return PriceBook(self.settings.prices_file)

    @cached_property
    def body_store(self):
        """Claim-checked bodies (Blob Storage), only when a body store is configured."""
        if not self.settings.body_storage_configured:
            return None
        from shared.adapters.blobs import (
            body_store_from_settings,
        )  # azure-storage-blob, only where claim checks are used

        return body_store_from_settings(self.settings)

    @cached_property
    def kusto_sink(self):
        """Azure Data Explorer, only when LEDGER_KUSTO_INGEST_URI is set."""
        if not self.settings.kusto_ingest_uri:
            return None
        from shared.adapters.kusto import QueuedKustoSink  # azure-kusto-ingest, only where ADX is used

        return QueuedKustoSink(
            self.settings.kusto_ingest_uri,
            self.settings.kusto_database,
            table=KUSTO_TABLE,
            mapping=KUSTO_MAPPING,
            client_id=self.settings.azure_client_id,
        )

    @cached_property
    def ingestor(self) -> Ingestor:
        claims = ClaimResolver(ClaimCheck(self.body_store)) if self.body_store is not None else None
        ingestor = Ingestor(
            self.store,
            self.prices,
            default_formats(claim_checks=claims is not None),
            default_assemblers(),
            salvager=CaptureSalvager(),
            claims=claims,
            store_text=self.settings.store_text,
            sinks=[KustoExport(self.kusto_sink, store_text=self.settings.store_text)]
            if self.kusto_sink is not None
            else [],
            hourly_sums_days=self.settings.hourly_sums_days,
        )
        keep_out_of_collections()
        return ingestor

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        return cls(
            settings=settings, store=SqlStore.from_url(settings.sql_url, token_provider=_token_provider(settings))
        )


def _token_provider(settings: Settings):
    if not settings.sql_url.startswith("mssql"):
        return None
    from shared.adapters.entra import sql_token_provider  # azure-identity, only where Azure SQL is used

    return sql_token_provider(settings.azure_client_id or None)


_context: AppContext | None = None
_context_lock = threading.Lock()
_frozen = False

# Young objects a collection waits for: CPython's 700 runs one every few events of a batch, over objects the
# event is still using, ~3 % of ingest's CPU (measured with bench/ingest.py); at 10,000 most are freed first.
YOUNG_COLLECTION_THRESHOLD = 10_000


def keep_out_of_collections() -> None:
    """Move what the process has built so far (modules, the store, the price book) out of the garbage
    collector's reach, once per process: they live as long as it does, and a batch allocates enough to
    trigger full collections that would otherwise walk them every time (~5 % of ingest's CPU, measured).
    See https://docs.python.org/3/library/gc.html#gc.freeze."""
    global _frozen
    with _context_lock:
        if not _frozen:
            _frozen = True
            gc.collect()  # what is garbage now is freed, not kept for ever
            gc.freeze()
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def app_context() -> AppContext:
    """The process-wide context, built on first use from the environment."""
    global _context
    if _context is None:
        with _context_lock:
            if _context is None:
                _context = AppContext.from_settings(load_settings())
    return _context


def reset_app_context() -> None:
    """Forget the process-wide context (tests, and the local host after it changes the environment)."""
    global _context
    with _context_lock:
        if _context is not None:
            _context.store.dispose()
        _context = None
