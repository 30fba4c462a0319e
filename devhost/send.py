"""`python -m devhost send`: put captured events (JSON Lines, Capture Avro) onto a real Event Hub.

For trying a deployment with realistic traffic (e.g. the sample month) before APIM sends its own. Each event
goes with partition key = its call id, as the APIM policy sends it, through azure-eventhub's buffered
producer (it batches per partition itself) with Entra credentials or a connection string.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from devhost.replay import read_events

ProducerFactory = Callable[[], Any]


def partition_key(body: bytes) -> str | None:
    """The call id the gateway would partition by: capture `id`, legacy `message-id`, else none."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, dict):
        for name in ("id", "message-id"):
            if isinstance(doc.get(name), str):
                return doc[name]
    return None


class _BufferedProducer:
    """The SDK's buffered producer with the two callbacks it requires in that mode (without them its constructor
    raises TypeError): sends go out in the background, so a refused batch is counted and raised on close,
    and `devhost send` never reports as sent what Event Hubs refused."""

    def __init__(self) -> None:
        self.refused = 0
        self.first_error: Exception | None = None
        self.client: Any = None  # set once built with these callbacks

    def on_success(self, events: list[Any], partition_id: str | None) -> None:
        pass

    def on_error(self, events: list[Any], partition_id: str | None, error: Exception) -> None:
        self.refused += len(events)
        self.first_error = self.first_error or error

    def send_event(self, event: Any, partition_key: str | None = None) -> None:
        self.client.send_event(event, partition_key=partition_key)

    def flush(self) -> None:
        self.client.flush()

    def close(self) -> None:
        self.client.close()
        if self.refused:
            raise RuntimeError(f"Event Hubs refused {self.refused:,} events: {self.first_error}")


def azure_producer(namespace: str, hub: str, connection_string: str | None = None) -> ProducerFactory:
    def build() -> _BufferedProducer:
        from azure.eventhub import EventHubProducerClient

        producer = _BufferedProducer()
        if connection_string:
            producer.client = EventHubProducerClient.from_connection_string(
                connection_string,
                eventhub_name=hub,
                buffered_mode=True,
                on_success=producer.on_success,
                on_error=producer.on_error,
            )
            return producer
        from azure.identity import DefaultAzureCredential

        client_id = os.environ.get("AZURE_CLIENT_ID") or None
        credential = (
            DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
        )
        producer.client = EventHubProducerClient(
            namespace, hub, credential, buffered_mode=True, on_success=producer.on_success, on_error=producer.on_error
        )
        return producer

    return build


def send_events(bodies: Iterable[bytes], producer_factory: ProducerFactory) -> int:
    from azure.eventhub import EventData

    producer = producer_factory()
    sent = 0
    try:
        for body in bodies:
            producer.send_event(EventData(body), partition_key=partition_key(body))
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def send_files(paths: list[Path], producer_factory: ProducerFactory) -> int:
    return send_events(read_events(paths), producer_factory)
