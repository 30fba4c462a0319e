"""Entra ID tokens from azure-identity: the managed identity in Azure, the developer's login locally."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SQL_SCOPE = "https://database.windows.net/.default"


def sql_token_provider(client_id: str | None) -> Callable[[], str]:
    """A callable returning a valid Azure SQL access token for the app's identity."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
    return cached_token_provider(credential, SQL_SCOPE)


def cached_token_provider(credential: TokenCredential, scope: str) -> Callable[[], str]:
    """A callable returning `credential`'s token for `scope`, asked for again five minutes before it expires."""
    lock = threading.Lock()
    cached: dict[str, object] = {}

    def token() -> str:
        with lock:
            expires_on = cached.get("expires_on", 0)
            if not cached or float(expires_on) - time.time() < 300:  # type: ignore[arg-type]
                access = credential.get_token(scope)
                cached.update(token=access.token, expires_on=access.expires_on)
            return str(cached["token"])

    return token
