"""Claim-checked bodies in Blob Storage (azure-storage-blob), read by `<container>/<name>` references.

Managed identity in Azure (`LEDGER_BODY_STORAGE_URL` + `AZURE_CLIENT_ID`), a connection string locally
(`LEDGER_BODY_STORAGE_CONNECTION_STRING`, e.g. Azurite's). The SDK is imported only when a store is built,
so apps without claim checks never load it.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)


def split_ref(ref: str) -> tuple[str, str]:
    """(container, blob name) of `<container>/<name>`; a full blob URL is accepted too."""
    text = ref.strip()
    if "://" in text:
        path = unquote(urlparse(text).path).lstrip("/")
        parts = path.split("/")
        # Azurite (and other path-style endpoints) put the account name first: /devstoreaccount1/<container>/<name>
        if len(parts) > 2 and parts[0].startswith("devstoreaccount"):
            parts = parts[1:]
        text = "/".join(parts)
    container, _, name = text.lstrip("/").partition("/")
    if not container or not name:
        raise ValueError(f"not a blob reference (<container>/<name>): {ref!r}")
    return container, name


class AzureBlobBodyStore:
    """`fetch(ref)`: the blob's bytes, or None while it is not there (yet)."""

    def __init__(self, *, account_url: str = "", connection_string: str = "", client_id: str = "") -> None:
        from azure.storage.blob import BlobServiceClient

        if connection_string:
            self._service = BlobServiceClient.from_connection_string(connection_string)
        elif account_url:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
            self._service = BlobServiceClient(account_url=account_url, credential=credential)
        else:
            raise ValueError("a body store needs LEDGER_BODY_STORAGE_URL or LEDGER_BODY_STORAGE_CONNECTION_STRING")

    def fetch(self, ref: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            container, name = split_ref(ref)
        except ValueError:
            logger.warning("bodyRef %r is not <container>/<name>; the body cannot be fetched", ref)
            return None
        try:
            return self._service.get_blob_client(container, name).download_blob().readall()
        except ResourceNotFoundError:
            return None

    def close(self) -> None:
        self._service.close()


def body_store_from_settings(settings) -> AzureBlobBodyStore | None:
    if settings.body_storage_connection_string:
        return AzureBlobBodyStore(connection_string=settings.body_storage_connection_string)
    if settings.body_storage_url:
        return AzureBlobBodyStore(account_url=settings.body_storage_url, client_id=settings.azure_client_id)
    return None
