"""`devhost send`: events go to the hub unchanged, partitioned by call id as the APIM policy does.

The producer is a fake at the Azure boundary: Event Hubs speaks AMQP and no local server for it installs here.
"""

from __future__ import annotations

import pytest

from devhost.send import azure_producer, partition_key, send_events
from tests.builders import capture_event, encode

CONNECTION = "Endpoint=sb://ledger.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=secret"


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str | None]] = []
        self.flushed = self.closed = False

    def send_event(self, event, partition_key=None) -> None:
        self.sent.append((b"".join(event.body), partition_key))

    def flush(self) -> None:
        self.flushed = True

    def close(self) -> None:
        self.closed = True


def test_events_are_sent_unchanged_with_their_call_id_as_partition_key():
    bodies = [encode(capture_event(call_id=f"call-{i}")) for i in range(3)] + [b"not json"]
    producer = RecordingProducer()
    assert send_events(bodies, lambda: producer) == 4
    assert [body for body, _ in producer.sent] == bodies
    assert [key for _, key in producer.sent] == ["call-0", "call-1", "call-2", None]
    assert producer.flushed and producer.closed


def test_legacy_sample_events_are_partitioned_by_message_id():
    assert partition_key(b'{"event-type": "Request", "message-id": "m-1"}') == "m-1"


def test_the_real_buffered_producer_is_built_with_the_callbacks_its_sdk_requires():
    # The SDK's constructor raises TypeError in buffered mode without on_success and on_error (found by mypy:
    # `devhost send` could never have sent an event). Building it opens no connection.
    producer = azure_producer("ledger.servicebus.windows.net", "aoai-capture", CONNECTION)()
    assert send_events([], lambda: producer) == 0  # nothing buffered: flush and close return at once


def test_events_the_hub_refused_fail_the_send_after_the_rest_are_flushed():
    producer = azure_producer("ledger.servicebus.windows.net", "aoai-capture", CONNECTION)()
    producer.on_error([object(), object()], "0", ConnectionError("the hub is down"))
    with pytest.raises(RuntimeError, match="Event Hubs refused 2 events: the hub is down"):
        send_events([], lambda: producer)
