"""Entries of the access log as the API writes them: who (the caller), what, and from where (the client IP)."""

from __future__ import annotations

from typing import Any

from shared.api.auth import Caller
from shared.api.http import ApiRequest
from shared.api.routes import ApiContext
from shared.reports.access_log import Access, record_access


def access_by(
    caller: Caller | None, request: ApiRequest, action: str, target: str, detail: dict[str, Any] | None = None
) -> Access:
    actor = (caller.user_id or caller.name) if caller is not None else None
    return Access(actor or "anonymous", action, target, request.client_ip, detail)


def log_access(context: ApiContext, access: Access) -> None:
    """An entry in a short write of its own (after a read, which holds no write transaction)."""
    with context.store.write(lock_wait=context.settings.api_write_wait_seconds) as conn:
        record_access(conn, access)
