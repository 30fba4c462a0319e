"""Event Hub triggers: capture/v1 (and legacy sample) events, and APIM diagnostic-settings exports."""

import logging

import azure.functions as func

from shared.ingest import IncomingEvent
from shared.wiring import app_context

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def _incoming(events: list[func.EventHubEvent]) -> list[IncomingEvent]:
    return [
        IncomingEvent(body=event.get_body(), source=f"partition-key {event.partition_key} seq {event.sequence_number}")
        for event in events
    ]


# A store failure raises, so the host retries the batch (host.json retry) and never checkpoints past it.
@bp.function_name("ingest")
@bp.event_hub_message_trigger(
    arg_name="events",
    event_hub_name="%EVENTHUB_NAME%",
    connection="EVENTHUB",
    consumer_group="%EVENTHUB_CONSUMER_GROUP%",
    cardinality="many",
    data_type="binary",
)
def ingest(events: list[func.EventHubEvent]) -> None:
    report = app_context().ingestor.ingest_batch(_incoming(events))
    logger.info("ingest batch: %s", report.as_json())


@bp.function_name("ingest_monitor")
@bp.event_hub_message_trigger(
    arg_name="events",
    event_hub_name="%EVENTHUB_MONITOR_NAME%",
    connection="EVENTHUB",
    consumer_group="%EVENTHUB_CONSUMER_GROUP%",
    cardinality="many",
    data_type="binary",
)
def ingest_monitor(events: list[func.EventHubEvent]) -> None:
    report = app_context().ingestor.ingest_batch(_incoming(events))
    logger.info("ingest_monitor batch: %s", report.as_json())
