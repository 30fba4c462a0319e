"""Records bounded to what every store accepts: limits read from the schema, cuts flagged, the rest refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import String

from shared.store import bounds
from shared.store.bounds import (
    CALL_TEXT,
    MAX_TOKENS,
    TextLimit,
    bound_record,
    clean_text,
    fit,
    part_problem,
    plausible_cost,
)
from shared.store.records import CallRecord
from shared.store.schema import ROLLUP_DIMENSIONS, calls, dead_letters, usage_daily_cuts, usage_hourly

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _record(**values) -> CallRecord:
    defaults = dict(
        call_id="call-1",
        time=NOW - timedelta(hours=1),
        source="capture/v1",
        operation="chat.completions",
        model="gpt-4o",
        deployment="chat-prod",
        api_version="2024-10-21",
        status=200,
        duration_ms=812.0,
        prompt_tokens=31,
        completion_tokens=42,
        total_tokens=73,
        prompt_text="Summarise the policy.",
        request_params={"temperature": 0.2},
    )
    return CallRecord(**(defaults | values))


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_limits_are_read_from_the_table_definitions():
    for column in calls.columns:
        if isinstance(column.type, String) and column.type.length:
            assert CALL_TEXT[column.name].length == column.type.length, column.name
    assert CALL_TEXT["model"] == TextLimit(256, wide=True)  # NVARCHAR(256): UTF-16 code units
    assert CALL_TEXT["api_version"] == TextLimit(32, wide=False)  # VARCHAR(32): bytes


def test_every_rollup_dimension_holds_whatever_a_call_column_was_cut_to():
    for table in (usage_hourly, usage_daily_cuts):
        for dim in ROLLUP_DIMENSIONS:
            if dim in CALL_TEXT:
                assert table.c[dim].type.length >= CALL_TEXT[dim].length, (table.name, dim)


def test_an_ordinary_call_passes_unchanged_and_unflagged():
    record = _record()
    before = orjson.dumps(record.request_params), record.model, record.prompt_text
    assert bound_record(record, now=NOW) is None
    assert not record.truncated
    assert (orjson.dumps(record.request_params), record.model, record.prompt_text) == before


def test_names_too_long_are_cut_to_the_column_and_flagged_and_stay_distinct():
    first, second = _record(model="m" * 300 + "-a", deployment="d" * 300), _record(model="m" * 300 + "-b")
    assert bound_record(first, now=NOW) is None and bound_record(second, now=NOW) is None
    assert len(first.model) == 256 and first.model.startswith("m" * 200) and first.truncated
    assert first.model != second.model  # grouping by model keeps them apart
    assert len(first.deployment) == 256


def test_wide_columns_count_utf16_units_and_narrow_ones_utf8_bytes():
    emoji = _record(user_name="😀" * 200, api_version="é" * 30)  # 400 UTF-16 units; 60 UTF-8 bytes
    assert bound_record(emoji, now=NOW) is None
    assert _utf16_units(emoji.user_name) <= 256 and emoji.user_name.encode()  # no half surrogate pair left
    assert len(emoji.api_version.encode()) <= 32


def test_characters_a_store_refuses_are_replaced_and_flagged():
    record = _record(
        prompt_text="before\x00after",
        completion_text="lone \ud800 surrogate",
        model="gpt\x00-4o",
        tool_calls=[{"name": "f\ud800", "arguments": 2**70}],
    )
    assert bound_record(record, now=NOW) is None
    assert record.prompt_text == "before\ufffdafter" and record.model == "gpt\ufffd-4o"
    assert record.completion_text.encode()  # encodable now
    assert orjson.loads(orjson.dumps(record.tool_calls)) == [{"name": "f\ufffd", "arguments": str(2**70)}]
    assert record.truncated


@pytest.mark.parametrize("duration", [math.nan, math.inf, -1.0, 1e12])
def test_an_unreadable_duration_becomes_unknown_and_flagged(duration):
    record = _record(duration_ms=duration, backend_ms=duration)
    assert bound_record(record, now=NOW) is None
    assert (record.duration_ms, record.backend_ms, record.truncated) == (None, None, True)


@pytest.mark.parametrize(
    "values, words",
    [
        ({"call_id": "x" * 65}, "longer than the 64"),
        ({"call_id": "id\x00"}, "no store accepts"),
        ({"time": datetime(9999, 12, 31, tzinfo=UTC)}, "outside the window"),
        ({"time": datetime(1999, 12, 31, tzinfo=UTC)}, "outside the window"),
        ({"time": NOW + timedelta(days=1, minutes=1)}, "outside the window"),
        ({"status": 1000}, "not an HTTP status"),
        ({"status": -1}, "not an HTTP status"),
        ({"status": 2**70}, "not an HTTP status"),
        ({"cached_tokens": 2**63 - 5}, "cached_tokens"),
        ({"prompt_tokens": MAX_TOKENS + 1}, "not a plausible token count"),
        ({"completion_tokens": -3}, "not a plausible token count"),
        ({"total_tokens": 2**80}, "total_tokens"),
    ],
)
def test_what_cannot_be_recorded_truthfully_is_refused_with_a_reason(values, words):
    assert words in bound_record(_record(**values), now=NOW)


def test_the_window_edges_are_accepted():
    for moment in (bounds.EARLIEST, NOW + timedelta(days=1), NOW.replace(tzinfo=None)):
        assert bound_record(_record(time=moment), now=NOW) is None
    assert bound_record(_record(prompt_tokens=MAX_TOKENS, status=999), now=NOW) is None


def test_a_cost_no_call_can_have_is_recorded_as_unpriced_not_summed():
    assert [plausible_cost(c) for c in (None, 0.0, 12.5, math.inf, math.nan, -0.01, 1e300)] == [
        None,
        0.0,
        12.5,
        None,
        None,
        None,
        None,
    ]


def test_pending_parts_whose_key_does_not_fit_are_refused():
    assert part_problem("legacy", "m" * 64, "request") is None
    assert "call id" in part_problem("legacy", "m" * 65, "request")
    assert "piece name" in part_problem("monitor", "call", "llm:\x00")


def test_dead_letter_text_fits_its_columns():
    reason = fit("x\x00" * 1000, dead_letters.c.reason)
    assert 1000 < len(reason.encode()) <= 1024 and "\x00" not in reason  # VARCHAR(1024): bytes
    assert fit(None, dead_letters.c.source) is None and fit("short", dead_letters.c.source) == "short"


def test_clean_text_leaves_clean_text_alone():
    text = "naïve café ✓"
    assert clean_text(text) is text


def test_a_bound_wider_than_its_column_stops_the_app_at_import(monkeypatch):
    monkeypatch.setattr(bounds, "MAX_TOKENS", 2**63)
    with pytest.raises(RuntimeError, match="prompt_tokens"):
        bounds.check_plausible_bounds_fit_the_schema()
