"""Entra ID tokens from azure-identity: the managed identity in Azure, the developer's login locally."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

SQL_SCOPE = "https://database.windows.net/.default"


def sql_token_provider(client_id: str | None) -> Callable[[], str]:
    """A callable returning a valid Azure SQL access token for the app's identity."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
    return cached_token_provider(credential, SQL_SCOPE)


def cached_token_provider(credential: TokenCredential, scope: str) -> Callable[[], str]:
    """A callable returning `credential`'s token for `scope`, asked for again five minutes before it expires."""
    lock = threading.Lock()
    cached: list[AccessToken] = []  # the current token, once there is one

    def token() -> str:
        with lock:
            if not cached or cached[0].expires_on - time.time() < 300:
                cached[:] = [credential.get_token(scope)]
            return cached[0].token

    return token
