"""No secret is stored, sent to ADX or logged, whatever the input format and wherever in the event it sits.

Every kind of secret rides in every place an event can carry text (prompt, completion, parameters, tool call
arguments, raw body, URL, header, error message) in each input format; the events are ingested into SQLite and
PostgreSQL, and then every text and byte column of every table is read back (the tables come from the schema's
metadata, so a new table or column is scanned without touching this test), together with the rows handed to
the ADX sink and the log records.
"""

from __future__ import annotations

import logging
from datetime import datetime

import orjson
import pytest
from sqlalchemy import LargeBinary, String, func, select

from shared.ingest.batch import Ingestor
from shared.ingest.formats.monitor import MonitorFormat
from shared.ingest.formats.registry import LegacySampleFormat, default_assemblers, default_formats
from shared.ingest.formats.salvage import CaptureSalvager
from shared.ingest.redaction import MASK
from shared.ingest.types import IncomingEvent
from shared.reports.deadletters import retry_dead_letter
from shared.store.kusto_sink import KustoExport
from shared.store.schema import call_payloads, calls, dead_letters, metadata, pending_parts
from tests.builders import CHAT_REQUEST, capture_event, chat_response, encode
from tests.conftest import make_context
from tests.monitor_builders import gateway_record, llm_records

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJvaWQiOiIxMjM0NTY3ODkwIiwidXBuIjoiYW5hQGNvbnRvc28uY29tIn0.c2lnbmF0dXJlLXBhcnQ"
SECRETS = {
    "api key": "Zx9kQ2mV7pL4rT8w",
    "bearer token": "Tk8f3jK29sLmQ0pXvR7yZ2aB4c",
    "JWT": JWT,
    "AccountKey": "Q2xvdWRLZXkxMjM0NTY3ODkw+/AbCd==",
    "SharedAccessKey": "U2VydmljZUJ1c0tleTEyMzQ1Njc4OTA=",
    "SAS sig": "AbC%2Bdef123%3D",
    "Password": "Hunter2-Pass!",
    "Pwd": "Odbc-Secret-9",
    "OpenAI project key": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234",
    "OpenAI key": "sk-4f9Qx2LmN8pR3tV7wY1zA5cE9gJ2kM6o",
    "32-hex Azure key": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}
S = SECRETS
CONNECTION_STRINGS = (
    f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={S['AccountKey']};"
    f"EndpointSuffix=core.windows.net Endpoint=sb://ns.servicebus.windows.net/;"
    f"SharedAccessKeyName=root;SharedAccessKey={S['SharedAccessKey']} "
    f"Server=tcp:db.database.windows.net;Password={S['Password']};Driver={{ODBC}};Pwd={S['Pwd']};"
)
URL_QUERY = f"?api-version=2024-10-21&api-key={S['api key']}&sig={S['SAS sig']}"
HEADERS = {
    "api-key": S["api key"],
    "Authorization": f"Bearer {S['bearer token']}",
    "Ocp-Apim-Subscription-Key": S["32-hex Azure key"],
    "x-ms-region": "East US 2",
}


def carrier(place: str) -> str:
    """Prose carrying every kind of secret, the way people paste them."""
    return (
        f"[{place}] my api-key: {S['api key']} and Authorization: Bearer {S['bearer token']}; id token {JWT}; "
        f"{CONNECTION_STRINGS} blob https://acct.blob.core.windows.net/c/b{URL_QUERY}&sp=r; keys "
        f"{S['OpenAI project key']} {S['OpenAI key']} and {S['32-hex Azure key']} (request 5f1c0d2e-7a3b-4c5d-8e9f-0a1b2c3d4e5f)"
    )


def json_carrier(place: str) -> dict:
    """The same secrets as JSON fields (tool arguments, parameters), so they travel escaped inside JSON text."""
    return {
        "place": place,
        "api-key": S["api key"],
        "headers": HEADERS,
        "connection": CONNECTION_STRINGS,
        "token": JWT,
        "openai": S["OpenAI project key"],
        "legacy": S["OpenAI key"],
        "key": S["32-hex Azure key"],
    }


def escaped_body(place: str) -> str:
    """A raw request body whose prompt quotes JSON with `\\u0022`-escaped quotes (some SDKs escape every quote)."""
    quoted = f"config \\u0022api-key\\u0022: \\u0022{S['api key']}\\u0022, \\u0022token\\u0022: \\u0022{JWT}\\u0022"
    return '{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + quoted + " " + place + '"}]}'


def tool_response(place: str) -> dict:
    response = chat_response(text=carrier(f"{place} completion"), finish_reason="tool_calls")
    response["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "connect", "arguments": orjson.dumps(json_carrier(f"{place} tool call")).decode()},
        }
    ]
    return response


def capture_events() -> list[dict]:
    request = {
        **CHAT_REQUEST,
        "messages": [
            {"role": "user", "content": carrier("capture prompt")},
            {"role": "user", "content": orjson.dumps(json_carrier("quoted")).decode()},
        ],
        "user": carrier("capture parameter"),
        "metadata": json_carrier("capture parameter"),
    }
    ok = capture_event(
        call_id="capture-ok",
        request=request,
        response=tool_response("capture"),
        backend={"id": "aoai-eastus2", "url": f"https://contoso.openai.azure.com/openai{URL_QUERY}"},
    )
    ok["request"]["path"] = f"/openai/deployments/chat-prod/chat/completions{URL_QUERY}"
    ok["request"]["headers"] = HEADERS  # not in the contract: kept only in raw bytes
    ok["response"]["headers"] = HEADERS
    failed = capture_event(
        call_id="capture-401",
        status=401,
        request=escaped_body("capture raw body"),
        response={"error": {"code": "401", "message": carrier("capture error body")}},
        error={"source": "backend", "reason": "Unauthorized", "message": carrier("capture error")},
    )
    dead = capture_event(call_id="capture-dead", request=request, response=tool_response("capture dead"))
    del dead["time"]  # dead-lettered: its raw bytes, every secret inside, are kept
    dead["response"]["headers"] = HEADERS
    return [ok, failed, dead]


def legacy_events() -> tuple[dict, dict, dict]:
    common = {
        "message-id": "5d2f0c8e-0c55-4a34-9f1e-6f4f0a0b1c2d",
        "operation": "ChatCompletions_Create",
        "backend": f"contoso-eastus2.openai.azure.com/openai{URL_QUERY}",
        "headers": HEADERS,
    }
    request = {
        **common,
        "event-type": "Request",
        "event-time": "11/27/2026 9:00:00 AM",
        "model": "gpt-4o",
        "prompt": "",
        "messages": orjson.dumps([{"role": "user", "content": carrier("legacy prompt")}]).decode(),
    }
    choices = tool_response("legacy")["choices"]
    response = {
        **common,
        "event-type": "Response",
        "event-time": "11/27/2026 9:00:02 AM",
        "model": "gpt-4o-2024-08-06",
        "choices": orjson.dumps(choices).decode(),
        "completion_tokens": "3",
        "prompt_tokens": "14",
        "total_tokens": "17",
    }
    dead = {**request, "event-type": carrier("legacy unknown event type")}
    return request, response, dead


def monitor_events() -> tuple[dict, dict]:
    call_id = "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    gateway = gateway_record(call_id, status=401)
    gateway["properties"]["url"] += f"&api-key={S['api key']}&sig={S['SAS sig']}"
    gateway["properties"]["backendUrl"] += f"&sig={S['SAS sig']}"
    gateway["properties"]["requestHeaders"] = HEADERS
    gateway["properties"]["lastError"] = {
        "source": "backend",
        "reason": "Unauthorized",
        "message": carrier("monitor error"),
    }
    messages = [{"role": "user", "content": carrier("monitor prompt")}]
    llm = llm_records(call_id, messages, carrier("monitor completion"), prompt_tokens=40, completion_tokens=60)
    orphan = {
        **gateway,
        "correlationId": None,
        "properties": {**gateway["properties"], "note": carrier("monitor dead")},
    }
    return {"records": [gateway, *llm]}, {"records": [orphan]}


class CollectingKustoSink:
    """The ADX boundary: keeps the rows the export hands over instead of uploading them."""

    def __init__(self) -> None:
        self.rows = b""

    def send(self, rows: bytes, *, tag: str) -> None:
        self.rows += rows


def _batch(*docs) -> list[IncomingEvent]:
    return [
        IncomingEvent(body=doc if isinstance(doc, bytes) else encode(doc), source=f"test:{i}")
        for i, doc in enumerate(docs)
    ]


def stored_text(store) -> dict[str, str]:
    """Every text and byte column of every table, as one string per `table.column`."""
    found: dict[str, str] = {}
    with store.read() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, (String, LargeBinary)):
                    continue
                values = conn.execute(select(column).where(column.is_not(None))).scalars()
                found[f"{table.name}.{column.name}"] = "\n".join(
                    bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v)
                    for v in values
                )
    return found


def leaks(texts: dict[str, str]) -> list[str]:
    return [f"{kind} in {where}" for where, text in texts.items() for kind, secret in SECRETS.items() if secret in text]


def _count(store, table) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def plain_log_records():
    """Log records as the standard library makes them until a context is built (another test may have
    installed the masking factory in this process already; this test must see the app install it)."""
    installed = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield
    logging.setLogRecordFactory(installed)


def test_no_secret_reaches_any_column_the_adx_rows_or_a_log_line_for_any_format(any_store, caplog, plain_log_records):
    context = make_context(any_store)
    adx = CollectingKustoSink()
    ingestor = Ingestor(
        any_store,
        context.prices,
        default_formats(),
        default_assemblers(),
        salvager=CaptureSalvager(),
        sinks=[KustoExport(adx)],
    )
    captured, failed, dead_capture = capture_events()
    legacy_request, legacy_response, legacy_dead = legacy_events()
    monitor_call, monitor_dead = monitor_events()
    cut = encode(capture_event(call_id="capture-cut", request=CHAT_REQUEST, response=tool_response("capture cut")))
    claim_checked = capture_event(call_id="capture-claim")
    claim_checked["request"].update(body=None, bodyRef=f"bodies/capture-claim-request?sig={S['SAS sig']}")
    with caplog.at_level(logging.DEBUG):
        first = ingestor.ingest_batch(
            _batch(
                captured,
                failed,
                dead_capture,
                legacy_request,
                legacy_dead,
                monitor_call,
                monitor_dead,
                cut[: len(cut) * 2 // 3],
                claim_checked,
            )
        )
        # Halves and pieces wait as pending parts: scanned while they wait, then joined by a later batch.
        waiting = stored_text(any_store)
        second = ingestor.ingest_batch(_batch(legacy_response))
    assert (first.recorded, first.pending, first.dead_lettered) == (5, 1, 3) and second.recorded == 1
    assert _count(any_store, dead_letters) == 4  # and the bytes of the cut event, kept beside its salvaged call
    assert _count(any_store, pending_parts) > 0 and "pending_parts.payload" in waiting

    stored = stored_text(any_store)
    assert not leaks(waiting) and not leaks(stored), leaks(waiting) + leaks(stored)
    assert not leaks({"ADX rows": adx.rows.decode()})
    logged = {f"log {r.name}": logging.Formatter().format(r) for r in caplog.records}
    assert not leaks(logged), leaks(logged)

    # The checks above would pass on an empty store: the calls are there, each with its text masked in place.
    with any_store.read() as conn:
        sources = dict(conn.execute(select(calls.c.source, func.count()).group_by(calls.c.source)).all())
        payloads = conn.execute(select(call_payloads)).mappings().all()
    assert sources == {"capture/v1": 4, "legacy-sample": 1, "azure-monitor": 1}
    for place in (
        "capture prompt",
        "capture completion",
        "capture parameter",
        "capture tool call",
        "capture error body",
        "capture raw body",
        "legacy prompt",
        "legacy tool call",
        "monitor prompt",
        "monitor completion",
    ):
        assert any(place in str(dict(p)) for p in payloads), place
    assert (
        f"[capture prompt] my api-key: {MASK} and Authorization: Bearer {MASK}; id token {MASK};"
        in stored["call_payloads.prompt_text"]
    )
    assert "request 5f1c0d2e-7a3b-4c5d-8e9f-0a1b2c3d4e5f" in stored["call_payloads.prompt_text"]  # a GUID is no secret
    for place in ("capture error body", "monitor error"):
        assert f"[{place}] my api-key: {MASK}" in stored["calls.error_message"]
    assert f"&api-key={MASK}&sig={MASK}" in stored["calls.backend_url"]
    assert b"callId" in adx.rows and MASK.encode() in adx.rows


def test_a_dead_lettered_event_is_masked_in_its_row_and_still_replays_into_a_call(any_store):
    context = make_context(any_store)
    event = capture_events()[0]
    before_the_fix = Ingestor(any_store, context.prices, formats=(LegacySampleFormat(), MonitorFormat()))
    assert before_the_fix.ingest_batch(_batch(event)).dead_lettered == 1
    with any_store.read() as conn:
        letter = conn.execute(select(dead_letters)).mappings().one()
    raw = bytes(letter["raw"])
    assert not leaks({"dead_letters.raw": raw.decode()})
    kept = orjson.loads(raw)  # masked in place: still the event, every field where it was
    assert kept["id"] == "capture-ok" and kept["response"]["headers"]["api-key"] == MASK
    assert orjson.loads(kept["request"]["body"])["model"] == "gpt-4o"

    retried = retry_dead_letter(any_store, context.ingestor, letter["id"])
    assert (retried.outcome, retried.status, retried.call_id) == ("recorded", "resolved", "capture-ok")
    again = retry_dead_letter(any_store, context.ingestor, letter["id"])
    assert again.outcome == "duplicate" and _count(any_store, dead_letters) == 1
    with any_store.read() as conn:
        call = conn.execute(select(calls)).mappings().one()
    assert (call["model"], call["total_tokens"]) == ("gpt-4o-2024-08-06", 73)

    assert not leaks(stored_text(any_store))


def test_retrying_a_letter_kept_before_masking_writes_no_secret_in_its_reason(any_store):
    context = make_context(any_store)
    with any_store.write() as conn:  # as an older ledger stored it: the bytes as they came
        letter_id = conn.execute(
            dead_letters.insert().values(
                received_at=datetime(2026, 11, 1),
                raw_sha256="0" * 64,
                reason="unknown event-type",
                status="open",
                raw=encode(legacy_events()[2]),
            )
        ).inserted_primary_key[0]
    retried = retry_dead_letter(any_store, context.ingestor, letter_id)
    assert retried.outcome == "dead" and "unknown event-type" in retried.reason
    with any_store.read() as conn:
        reasons = "\n".join(conn.execute(select(dead_letters.c.reason)).scalars())
    assert not leaks({"retried reason": retried.reason, "dead_letters.reason": reasons})
