"""The Azure Data Explorer sink (azure-kusto-ingest, queued ingestion), used when LEDGER_KUSTO_INGEST_URI is set.

Queued ingestion asks the cluster's data management endpoint (`https://ingest-<cluster>...`) for its
staging blob containers and queues, uploads the rows as a gzipped blob and enqueues a message naming it;
ADX ingests it within minutes (the batching policy). `send` returns once the message is queued, so a
failure to queue fails the ledger's batch and the host retries it.

Authentication: the Functions' user-assigned managed identity (`AZURE_CLIENT_ID`; the Bicep grants it
Ingestor on the database). A plain `http://` URI on a loopback address gets no authentication: that is
only ever a local stand-in (the tests' fake data management endpoint).
"""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class QueuedKustoSink:
    """`send(rows, tag=...)`: queue JSON-lines rows for the `Calls` table, ingested once per tag."""

    def __init__(
        self, ingest_uri: str, database: str, *, table: str, mapping: str, client_id: str = "", credential: Any = None
    ) -> None:
        from azure.kusto.ingest import QueuedIngestClient

        if not database:
            raise ValueError("LEDGER_KUSTO_DATABASE is required when LEDGER_KUSTO_INGEST_URI is set")
        self.database, self.table, self.mapping = database, table, mapping
        self._client = QueuedIngestClient(_connection(ingest_uri, client_id, credential))

    def send(self, rows: bytes, *, tag: str) -> None:
        from azure.kusto.data.data_format import DataFormat
        from azure.kusto.ingest import IngestionProperties, StreamDescriptor

        properties = IngestionProperties(
            database=self.database,
            table=self.table,
            data_format=DataFormat.JSON,
            ingestion_mapping_reference=self.mapping,
            # The extents of this batch carry the tag; a retried batch with the same calls is skipped by ADX.
            ingest_by_tags=[tag],
            ingest_if_not_exists=[tag],
        )
        # The stream's name becomes part of the blob name; the source id (a fresh uuid) keeps blobs apart,
        # so a retry uploads a new blob instead of failing on the one the first attempt left behind.
        self._client.ingest_from_stream(StreamDescriptor(io.BytesIO(rows), stream_name="calls.json"), properties)
        logger.info("queued %d bytes of calls for ADX %s.%s (tag %s)", len(rows), self.database, self.table, tag)

    def close(self) -> None:
        self._client.close()


def _connection(ingest_uri: str, client_id: str, credential: Any):
    from azure.kusto.data import KustoConnectionStringBuilder

    parsed = urlparse(ingest_uri)
    if credential is None and parsed.scheme == "http" and parsed.hostname in _LOOPBACK:
        return KustoConnectionStringBuilder.with_no_authentication(ingest_uri)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
    return KustoConnectionStringBuilder.with_azure_token_credential(ingest_uri, credential=credential)
