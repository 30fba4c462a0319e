"""Event Hub triggers: capture/v1 (and legacy sample) events, and APIM diagnostic-settings exports.

Both hand their batch to the same ingest use case, imported on the first batch to keep the cold start small.
A store failure raises; each function's own retry policy then runs the batch again, with back-off, until it
succeeds, and the host writes no checkpoint until the retries are done, so the partition waits rather than
skipping the batch. Microsoft configures Event Hubs retry policies at function level
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages#retries); host.json has none.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def _ingest(name: str, events: list[func.EventHubEvent]) -> None:
    from shared.app.wiring import app_context
    from shared.ingest.types import IncomingEvent

    batch = [
        IncomingEvent(body=event.get_body(), source=f"partition-key {event.partition_key} seq {event.sequence_number}")
        for event in events
    ]
    report = app_context().ingestor.ingest_batch(batch)
    logger.info("%s batch: %s", name, report.as_json())


# max_retry_count -1: retry until the store answers again; a batch must never be checkpointed past.
_retry_forever = bp.retry(
    strategy="exponential_backoff", max_retry_count="-1", minimum_interval="00:00:05", maximum_interval="00:05:00"
)


@bp.function_name("ingest")
@bp.event_hub_message_trigger(
    arg_name="events",
    event_hub_name="%EVENTHUB_NAME%",
    connection="EVENTHUB",
    consumer_group="%EVENTHUB_CONSUMER_GROUP%",
    cardinality="many",
    data_type="binary",
)
@_retry_forever
def ingest(events: list[func.EventHubEvent]) -> None:
    _ingest("ingest", events)


@bp.function_name("ingest_monitor")
@bp.event_hub_message_trigger(
    arg_name="events",
    event_hub_name="%EVENTHUB_MONITOR_NAME%",
    connection="EVENTHUB",
    consumer_group="%EVENTHUB_CONSUMER_GROUP%",
    cardinality="many",
    data_type="binary",
)
@_retry_forever
def ingest_monitor(events: list[func.EventHubEvent]) -> None:
    _ingest("ingest_monitor", events)
