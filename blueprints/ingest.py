"""Event Hub triggers: capture/v1 (and legacy sample) events, and APIM diagnostic-settings exports.

Both hand their batch to the same ingest use case, imported on the first batch to keep the cold start small.
A store failure raises, so the host retries the batch (host.json retry) and never checkpoints past it.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def _ingest(name: str, events: list[func.EventHubEvent]) -> None:
    from shared.ingest import IncomingEvent
    from shared.wiring import app_context

    batch = [
        IncomingEvent(body=event.get_body(), source=f"partition-key {event.partition_key} seq {event.sequence_number}")
        for event in events
    ]
    report = app_context().ingestor.ingest_batch(batch)
    logger.info("%s batch: %s", name, report.as_json())


@bp.function_name("ingest")
@bp.event_hub_message_trigger(arg_name="events", event_hub_name="%EVENTHUB_NAME%", connection="EVENTHUB",
                              consumer_group="%EVENTHUB_CONSUMER_GROUP%", cardinality="many", data_type="binary")
def ingest(events: list[func.EventHubEvent]) -> None:
    _ingest("ingest", events)


@bp.function_name("ingest_monitor")
@bp.event_hub_message_trigger(arg_name="events", event_hub_name="%EVENTHUB_MONITOR_NAME%", connection="EVENTHUB",
                              consumer_group="%EVENTHUB_CONSUMER_GROUP%", cardinality="many", data_type="binary")
def ingest_monitor(events: list[func.EventHubEvent]) -> None:
    _ingest("ingest_monitor", events)
