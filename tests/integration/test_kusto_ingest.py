"""The Azure Data Explorer sink through the real azure-kusto-ingest SDK, against local fakes on loopback.

Queued ingestion asks the data management endpoint for its staging resources (`.get ingestion resources`,
`.get kusto identity token`: POST /v1/rest/mgmt), uploads the rows as a blob and enqueues a message naming
it. Here the data management endpoint is a small local HTTP server that answers those two commands with
Azurite's blob container and queue (SAS URLs of the well-known development account), so the tests read back
exactly what ADX would be handed: the blob's rows and the queue message's tags and mapping reference.
"""

from __future__ import annotations

import base64
import gzip
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import pytest
from azure.kusto.data.exceptions import KustoServiceError  # what the SDK raises when ADX answers 5xx
from sqlalchemy import func, select

from shared.adapters.kusto import QueuedKustoSink
from shared.ingest.types import IncomingEvent
from shared.store.kusto_sink import MAPPING, TABLE, batch_tag, json_mapping
from shared.store.schema import calls
from tests.azurite import ACCOUNT, KEY
from tests.builders import CHAT_REQUEST, capture_event, chat_response, chat_stream_without_usage, encode
from tests.conftest import make_context
from tests.monitor_builders import gateway_record, llm_records


class FakeDataManagement:
    """The ingestion endpoint's management commands, answered with Azurite resources."""

    def __init__(self, container_url: str, queue_url: str) -> None:
        self.container_url, self.queue_url = container_url, queue_url
        self.commands: list[tuple[str, str | None]] = []  # (command, Authorization header)
        self.failing = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.commands.append((body["csl"], self.headers.get("Authorization")))
                if fake.failing or self.path != "/v1/rest/mgmt":
                    return self._send(500, {"error": {"code": "ServiceUnavailable", "message": "down for the test"}})
                self._send(200, {"Tables": [fake.answer(body["csl"])]})

            def do_GET(self) -> None:  # /v1/rest/auth/metadata: none here, the SDK then assumes the public cloud
                self._send(404, {})

            def _send(self, status: int, doc: dict) -> None:
                data = orjson.dumps(doc)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, command: str) -> dict:
        if command == ".get ingestion resources":
            rows = [
                ["SecuredReadyForAggregationQueue", self.queue_url],
                ["FailedIngestionsQueue", self.queue_url],
                ["SuccessfulIngestionsQueue", self.queue_url],
                ["TempStorage", self.container_url],
                ["IngestionsStatusTable", self.container_url],
            ]
            names = ("ResourceTypeName", "StorageRoot")
        elif command == ".get kusto identity token":
            rows, names = [["fake-authorization-context"]], ("AuthorizationContext",)
        else:
            raise AssertionError(f"unexpected management command {command!r}")
        columns = [{"ColumnName": name, "DataType": "String", "ColumnType": "string"} for name in names]
        return {"TableName": "Table_0", "Columns": columns, "Rows": rows}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Staging:
    """The Azurite container and queue the fake hands out, and what landed in them."""

    def __init__(self, conn_str: str) -> None:
        from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
        from azure.storage.queue import QueueSasPermissions, QueueServiceClient, generate_queue_sas

        suffix = uuid.uuid4().hex[:12]
        self.container = BlobServiceClient.from_connection_string(conn_str).create_container(f"ingest-{suffix}")
        self.queue = QueueServiceClient.from_connection_string(conn_str).create_queue(f"ready-{suffix}")
        expiry = datetime.now(UTC) + timedelta(hours=2)
        container_sas = generate_container_sas(
            ACCOUNT,
            self.container.container_name,
            account_key=KEY,
            expiry=expiry,
            permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
        )
        queue_sas = generate_queue_sas(
            ACCOUNT,
            self.queue.queue_name,
            account_key=KEY,
            expiry=expiry,
            permission=QueueSasPermissions(read=True, add=True, process=True),
        )
        self.container_url = f"{self.container.url}?{container_sas}"
        self.queue_url = f"{self.queue.url}?{queue_sas}"

    def messages(self) -> list[dict]:
        found = [orjson.loads(base64.b64decode(m.content)) for m in self.queue.peek_messages(max_messages=32)]
        return found

    def rows(self, message: dict) -> list[dict]:
        name = message["BlobPath"].split("?")[0].rsplit("/", 1)[1]
        data = self.container.get_blob_client(name).download_blob().readall()
        return [orjson.loads(line) for line in gzip.decompress(data).splitlines()]


@pytest.fixture
def staging(azurite_queue) -> Staging:
    return Staging(azurite_queue)


@pytest.fixture
def adx(staging):
    fake = FakeDataManagement(staging.container_url, staging.queue_url)
    yield fake
    fake.close()


def _events(*docs) -> list[IncomingEvent]:
    return [IncomingEvent(body=encode(doc), source=f"test:{i}") for i, doc in enumerate(docs)]


def _calls(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(calls)).scalar_one()


def test_the_sdk_uploads_the_rows_and_queues_them_with_the_tag_and_mapping(adx, staging):
    sink = QueuedKustoSink(adx.uri, "ledger", table=TABLE, mapping=MAPPING)
    rows = b'{"callId":"a","totalTokens":3}\n{"callId":"b","totalTokens":5}\n'
    sink.send(rows, tag="ledger-abc")
    sink.close()
    assert [command for command, _ in adx.commands] == [".get ingestion resources", ".get kusto identity token"]
    assert all(auth is None for _, auth in adx.commands)  # loopback http: no authentication
    (message,) = staging.messages()
    assert (message["DatabaseName"], message["TableName"]) == ("ledger", "Calls")
    extra = message["AdditionalProperties"]
    assert extra["format"] == "json" and extra["ingestionMappingReference"] == "CallsJson"
    assert orjson.loads(extra["tags"]) == ["ingest-by:ledger-abc"]
    assert orjson.loads(extra["ingestIfNotExists"]) == ["ledger-abc"]
    assert extra["authorizationContext"] == "fake-authorization-context"
    assert staging.rows(message) == [{"callId": "a", "totalTokens": 3}, {"callId": "b", "totalTokens": 5}]


def test_with_a_token_credential_every_management_command_carries_its_bearer_token(adx, staging):
    class FakeCredential:  # stands in for DefaultAzureCredential (managed identity) at the Azure boundary
        scopes: ClassVar[list[str]] = []  # shared: the test reads what any instance was asked for

        def get_token(self, *scopes, **kwargs):
            from azure.core.credentials import AccessToken

            self.scopes.extend(scopes)
            return AccessToken("token-of-the-managed-identity", int(datetime.now(UTC).timestamp()) + 3600)

        def close(self) -> None:
            pass

    credential = FakeCredential()
    QueuedKustoSink(adx.uri, "ledger", table=TABLE, mapping=MAPPING, credential=credential).send(
        b'{"callId":"a"}\n', tag="ledger-t"
    )
    assert [auth for _, auth in adx.commands] == ["Bearer token-of-the-managed-identity"] * 2
    assert credential.scopes and all(scope.endswith("/.default") for scope in credential.scopes)
    assert len(staging.messages()) == 1


def test_a_batch_sends_its_recorded_calls_once_and_a_redelivery_sends_nothing(store, adx, staging):
    context = make_context(store, LEDGER_KUSTO_INGEST_URI=adx.uri, LEDGER_KUSTO_DATABASE="ledger")
    events = _events(
        capture_event(call_id="k-1", response=chat_response(prompt=31, completion=42)),
        capture_event(call_id="k-2", response=chat_response(prompt=5, completion=7)),
    )
    report = context.ingestor.ingest_batch([*events, IncomingEvent(body=b"not json")])
    assert (report.recorded, report.dead_lettered) == (2, 1)
    (message,) = staging.messages()
    assert orjson.loads(message["AdditionalProperties"]["tags"]) == [f"ingest-by:{batch_tag(['k-1', 'k-2'])}"]
    rows = {row["callId"]: row for row in staging.rows(message)}
    assert set(rows) == {"k-1", "k-2"}
    assert list(rows["k-1"]) == [m["column"] for m in json_mapping(True)]
    assert (rows["k-1"]["totalTokens"], rows["k-2"]["totalTokens"], rows["k-1"]["status"]) == (73, 12, 200)
    assert rows["k-1"]["costUsd"] > 0 and "travel policy" in rows["k-1"]["promptText"]
    # the host delivers the same batch again: duplicates in SQL, nothing new for ADX
    again = context.ingestor.ingest_batch(events)
    assert again.duplicates == 2 and len(staging.messages()) == 1


def test_without_stored_text_the_rows_carry_numbers_only(store, adx, staging):
    context = make_context(
        store, LEDGER_KUSTO_INGEST_URI=adx.uri, LEDGER_KUSTO_DATABASE="ledger", LEDGER_STORE_TEXT="false"
    )
    context.ingestor.ingest_batch(_events(capture_event(call_id="n-1")))
    (row,) = staging.rows(staging.messages()[0])
    assert "promptText" not in row and row["totalTokens"] == 73


def test_when_adx_cannot_be_reached_the_batch_rolls_back_and_the_retry_sends_it(store, adx, staging):
    context = make_context(store, LEDGER_KUSTO_INGEST_URI=adx.uri, LEDGER_KUSTO_DATABASE="ledger")
    events = _events(capture_event(call_id="r-1"), capture_event(call_id="r-2"))
    adx.failing = True
    with pytest.raises(KustoServiceError):
        context.ingestor.ingest_batch(events)
    assert _calls(store) == 0 and staging.messages() == []  # nothing half-done: the host will retry
    adx.failing = False
    report = context.ingestor.ingest_batch(events)
    assert report.recorded == 2 and _calls(store) == 2
    (message,) = staging.messages()
    assert orjson.loads(message["AdditionalProperties"]["ingestIfNotExists"]) == [batch_tag(["r-1", "r-2"])]


def test_a_merged_call_is_sent_again_as_the_store_now_has_it_with_a_later_ingestion_time(store, adx, staging):
    """ADX keeps both versions; CallsLatest (arg_max(ingestedAt, *) by callId) is the completed call."""
    context = make_context(store, LEDGER_KUSTO_INGEST_URI=adx.uri, LEDGER_KUSTO_DATABASE="ledger")
    stream = chat_stream_without_usage("Short answer.")
    event = capture_event(
        call_id="m-1", request=dict(CHAT_REQUEST, stream=True), response=stream, content_type="text/event-stream"
    )
    context.ingestor.ingest_batch(_events(event))
    records = [
        gateway_record("m-1"),
        *llm_records("m-1", CHAT_REQUEST["messages"], "Short answer.", prompt_tokens=31, completion_tokens=3),
    ]
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps({"records": records}))])
    assert report.calls_merged == 1
    first, second = sorted(staging.messages(), key=lambda m: m["SourceMessageCreationTime"])
    (before,), (after,) = staging.rows(first), staging.rows(second)
    assert before["tokensEstimated"] is True and before["source"] == "capture/v1"
    assert (after["promptTokens"], after["completionTokens"], after["tokensEstimated"]) == (31, 3, False)
    assert after["source"] == "azure-monitor+capture/v1" and after["userId"] == "oid-ana"
    assert after["completionText"] == "Short answer." and after["ingestedAt"] > before["ingestedAt"]


def test_calls_the_sweep_records_are_sent_too(store, adx, staging):
    context = make_context(
        store, LEDGER_KUSTO_INGEST_URI=adx.uri, LEDGER_KUSTO_DATABASE="ledger", LEDGER_MONITOR_JOIN_SECONDS="0"
    )
    header = llm_records("s-1", CHAT_REQUEST["messages"], "Short answer.", prompt_tokens=31, completion_tokens=3)[0]
    context.ingestor.ingest_batch([IncomingEvent(orjson.dumps({"records": [header]}))])  # waits for its gateway record
    assert staging.messages() == []
    from shared.jobs.pending_sweep import sweep_pending

    assert sweep_pending(context) == {"recorded": 1, "merged": 0}
    (message,) = staging.messages()
    assert [row["callId"] for row in staging.rows(message)] == ["s-1"]
