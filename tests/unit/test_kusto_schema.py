"""The Azure Data Explorer copy: its columns, JSON mapping and rows agree with the SQL calls table and schema.kql."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson

from shared.ingest.calls import CallWriter
from shared.ingest.pricing import PriceBook
from shared.store.kusto_sink import (
    MAPPING,
    TABLE,
    KustoExport,
    batch_tag,
    camel,
    columns,
    json_mapping,
    kusto_rows,
    table_schema,
)
from shared.store.records import CallRecord
from shared.store.schema import calls
from shared.store.sql import SqlStore

KQL = Path(__file__).resolve().parents[2] / "infra" / "kusto" / "schema.kql"
ADX_BICEP = Path(__file__).resolve().parents[2] / "infra" / "modules" / "adx.bicep"
SQL_FIELDS = [c.name for c in calls.columns if c.name in {f.name for f in dataclasses.fields(CallRecord)}]


def _record(**overrides) -> CallRecord:
    values = dict(
        call_id="call-1",
        time=datetime(2026, 11, 27, 9, 0, 0, 123000, tzinfo=UTC),
        source="capture/v1",
        operation="chat.completions",
        model="gpt-4o",
        subscription_id="sub-1",
        user_id="oid-ana",
        status=200,
        duration_ms=812.5,
        streamed=True,
        prompt_tokens=31,
        completion_tokens=42,
        total_tokens=73,
        cost_usd=0.00051,
        tokens_estimated=False,
        prompt_text="Which hotel?",
        completion_text="The Ritz.",
        request_body='{"messages": []}',
    )
    return CallRecord(**(values | overrides))


def _kql_table_columns(table: str = "Calls") -> list[tuple[str, str]]:
    body = re.search(rf"^\.create-merge table {table} \((.*?)^\)", KQL.read_text(), re.S | re.M).group(1)
    pairs = [line.strip().rstrip(",") for line in body.strip().splitlines()]
    return [
        (name.strip().removeprefix("['").removesuffix("']"), kind.strip())
        for name, kind in (p.split(":") for p in pairs)
    ]


def _kql_mapping() -> tuple[str, list[dict]]:
    match = re.search(
        r'^\.create-or-alter table Calls ingestion json mapping "(\w+)"\n((?:\s+\'.*\'\n)+)', KQL.read_text(), re.M
    )
    text = "".join(re.findall(r"'(.*)'", match.group(2)))
    return match.group(1), orjson.loads(text)


def test_every_sql_calls_field_of_the_record_is_a_kusto_column_and_mapped():
    for store_text in (True, False):
        names = {c.field for c in columns(store_text)}
        mapped = {m["column"] for m in json_mapping(store_text)}
        for field in [*SQL_FIELDS, "ingested_at"]:
            assert field in names, field
            assert camel(field) in mapped, field


def test_kusto_types_time_datetime_flags_bool_tokens_long_cost_real():
    types = {c.field: c.type for c in columns()}
    assert types["time"] == types["ingested_at"] == "datetime"
    for flag in ("streamed", "content_filtered", "tokens_estimated", "truncated", "body_missing", "stream_incomplete"):
        assert types[flag] == "bool"
    assert types["cost_usd"] == types["duration_ms"] == "real"
    assert types["total_tokens"] == "long" and types["status"] == "int" and types["call_id"] == "string"


def test_text_columns_only_when_text_is_kept():
    assert [c.name for c in columns(True)][-2:] == ["promptText", "completionText"]
    assert not {"promptText", "completionText"} & {c.name for c in columns(False)}
    assert "promptText" not in table_schema(False) and "promptText:string" in table_schema(True).replace(" ", "")


def test_rows_are_json_lines_in_the_mapping_shape():
    ingested = datetime(2026, 11, 27, 9, 5, tzinfo=UTC)
    lines = kusto_rows([_record(), _record(call_id="call-2", cost_usd=None)], ingested_at=ingested).splitlines()
    first, second = (orjson.loads(line) for line in lines)
    assert list(first) == [m["column"] for m in json_mapping(True)]
    assert first["callId"] == "call-1" and first["time"] == "2026-11-27T09:00:00.123000Z"
    assert first["ingestedAt"] == "2026-11-27T09:05:00.000000Z"
    assert (first["streamed"], first["contentFiltered"], first["costUsd"], first["totalTokens"]) == (
        True,
        False,
        0.00051,
        73,
    )
    assert (first["promptText"], first["completionText"]) == ("Which hotel?", "The Ritz.")
    assert "requestBody" not in first  # raw bodies stay in SQL
    assert second["costUsd"] is None  # unpriced stays null, never 0


def test_rows_carry_no_text_when_text_is_not_kept():
    row = orjson.loads(kusto_rows([_record()], ingested_at=datetime(2026, 11, 27, tzinfo=UTC), store_text=False))
    assert "promptText" not in row and "completionText" not in row and row["promptTokens"] == 31


class _CollectingSink:
    """The ADX boundary: keeps the rows instead of uploading them."""

    def __init__(self) -> None:
        self.rows = b""

    def send(self, rows: bytes, *, tag: str) -> None:
        self.rows += rows


def test_the_rows_ingest_hands_adx_carry_no_secret_whoever_built_the_record():
    """Ingest masks a call before it writes it and gives the sinks what it wrote (new calls as written, merged
    ones re-read), so ADX keeps no more than SQL does, however the record was made."""
    key, url = (
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234",
        "https://h.openai.azure.com/x?api-key=Zx9kQ2mV7pL4rT8w&sig=AbC%2Bdef123%3D",
    )
    adx = _CollectingSink()
    store = SqlStore.from_url("sqlite://")
    writer = CallWriter(store, PriceBook(), sinks=[KustoExport(adx)])
    now = datetime(2026, 11, 27, 9, 5)
    pieces = [
        _record(prompt_text=f"use {key}", completion_text=f"Bearer {key}", backend_url=url),
        _record(source="azure-monitor", error_message=f"denied for {key}", error_code="E"),
    ]  # merged into the first
    try:
        for piece in pieces:
            with store.write() as conn:
                exports = writer.open_exports(now)
                writer.export(conn, exports, writer.record(conn, [piece], now=now), {piece.call_id: piece})
                for export in exports:
                    export.send()
    finally:
        store.dispose()
    first, merged = (orjson.loads(line) for line in adx.rows.splitlines())
    assert key.encode() not in adx.rows and b"Zx9kQ2mV7pL4rT8w" not in adx.rows and b"AbC%2Bdef123%3D" not in adx.rows
    assert first["promptText"] == merged["promptText"] == "use [REDACTED]"
    assert merged["errorMessage"] == "denied for [REDACTED]" and merged["source"] == "azure-monitor+capture/v1"


def test_the_batch_tag_depends_on_the_calls_not_their_order():
    assert batch_tag(["b", "a", "c"]) == batch_tag(["c", "b", "a", "a"])
    assert batch_tag(["a", "b"]) != batch_tag(["a", "b", "c"])
    assert batch_tag(["a"]).startswith("ledger-")


def test_the_kql_file_creates_the_same_table_and_mapping():
    assert _kql_table_columns() == [(c.name, c.type) for c in columns(True)]
    name, mapping = _kql_mapping()
    assert (name, TABLE) == (MAPPING, "Calls")
    assert mapping == json_mapping(True)


def test_the_kql_file_deduplicates_merged_calls_and_has_hourly_views():
    text = KQL.read_text()
    assert re.search(
        r"materialized-view .*CallsLatest on table CallUsage\n\{\n\s+CallUsage\n\s+\| summarize arg_max\(ingestedAt, \*\) by callId",
        text,
    )
    for view, key in (("UsageHourlyBySubscription", "subscriptionId"), ("UsageHourlyByUser", "userId")):
        assert re.search(
            rf"materialized-view .*{view} on table Calls\n\{{.*?by hour = bin\(\['time'\], 1h\), {key}, model\n\}}",
            text,
            re.S,
        )
    # a database script runs commands separated by blank lines: no command may contain one
    for command in re.split(r"\n\s*\n", text):
        lines = [line for line in command.splitlines() if not line.lstrip().startswith("//")]
        assert sum(1 for line in lines if line.startswith(".")) <= 1, command[:80]


TEXT_COLUMNS = ("promptText", "completionText")
RETENTION = re.compile(
    r"^\.alter-merge table (\w+) policy retention softdelete = (\d+)d recoverability = disabled$", re.M
)


def test_text_lives_only_in_calls_which_keeps_the_text_retention_while_call_usage_keeps_every_number():
    text = KQL.read_text()
    # ADX retention is per table, so the numbers are copied without the text, column for column, in order
    assert _kql_table_columns("CallUsage") == [c for c in _kql_table_columns() if c[0] not in TEXT_COLUMNS]
    assert re.search(r"CallsWithoutText\(\)\n\{\n\s+Calls\n\s+\| project-away promptText, completionText\n\}", text)
    policy = re.search(r"^\.alter table CallUsage policy update @'(.*)'$", text, re.M)
    assert orjson.loads(policy.group(1)) == [
        {
            "IsEnabled": True,
            "Source": "Calls",
            "Query": "CallsWithoutText()",
            "IsTransactional": True,
            "PropagateIngestionProperties": False,
        }
    ]
    # only Calls has its own retention, the settings' default of 90 days (the database keeps 365)
    assert RETENTION.findall(text) == [("Calls", "90")]
    # a view keeps its own copy past Calls' retention: one that keeps whole rows reads CallUsage
    views = re.findall(r"^\.create-or-alter materialized-view[^\n]* on table (\w+)\n\{(.*?)\n\}", text, re.S | re.M)
    assert len(views) == 3
    for source, query in views:
        assert source == "CallUsage" or ("*" not in query and not any(c in query for c in TEXT_COLUMNS)), query


def test_the_adx_module_writes_the_deployed_text_retention_into_the_script():
    bicep = ADX_BICEP.read_text()
    target = re.search(r"var textRetentionCommand = '(.*)'", bicep).group(1)
    assert RETENTION.search(KQL.read_text()).group(0) == target  # else the replace would change nothing
    assert "replace(schemaKql, textRetentionCommand, textRetentionDays > 0 ? textRetentionDeployed" in bicep
    assert "softdelete = ${textRetentionDays}d recoverability = disabled'" in bicep
    assert "'.delete table Calls policy retention'" in bicep
    assert "scriptContent: schemaScript" in bicep and "forceUpdateTag: uniqueString(schemaScript)" in bicep


def test_the_adx_module_applies_the_kql_file_as_a_database_script():
    bicep = ADX_BICEP.read_text()
    assert "Microsoft.Kusto/clusters/databases/scripts@" in bicep
    assert "loadTextContent('../kusto/schema.kql')" in bicep
    assert (ADX_BICEP.parent / "../kusto/schema.kql").resolve() == KQL
