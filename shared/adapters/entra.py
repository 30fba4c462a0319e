"""Entra ID tokens from azure-identity: the managed identity in Azure, the developer's login locally."""

from __future__ import annotations

import threading
import time
from typing import Callable

SQL_SCOPE = "https://database.windows.net/.default"


def sql_token_provider(client_id: str | None) -> Callable[[], str]:
    """A callable returning a valid Azure SQL access token, refreshed five minutes before it expires."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
    lock = threading.Lock()
    cached: dict[str, object] = {}

    def token() -> str:
        with lock:
            expires_on = cached.get("expires_on", 0)
            if not cached or float(expires_on) - time.time() < 300:  # type: ignore[arg-type]
                access = credential.get_token(SQL_SCOPE)
                cached.update(token=access.token, expires_on=access.expires_on)
            return str(cached["token"])

    return token
