"""Hostile events on real stores (SQLite and PostgreSQL): each is recorded (cut to fit, flagged) or dead-lettered
with a reason, the good events around it are recorded exactly once, and the reports still match the calls."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.ingest.types import IncomingEvent
from shared.reports.usage import UsageQuery, query_usage
from shared.store.bounds import CALL_TEXT
from shared.store.schema import calls, dead_letters, pending_parts
from shared.store.sql import SqlStore
from tests.builders import capture_event, chat_response, encode
from tests.conftest import make_context
from tests.integration.conftest import REFUSED_MODEL, refuse_model
from tests.integration.test_ingest import LEGACY_REQUEST, LEGACY_RESPONSE
from tests.local_host import devhost_env, run_devhost

BEYOND_64_BITS = 2**70
NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
_ids = itertools.count()


def _capture(call_id: str, time: str, **changes) -> bytes:
    """A capture/v1 event; `changes` go to the builder, and a few hostile values are spliced into the bytes
    (orjson, like most JSON writers, cannot write integers beyond 64 bits)."""
    status = changes.pop("status", 200)
    tokens = changes.pop("prompt_tokens", 31)
    api_version = changes.pop("api_version", None)
    response = (
        orjson.dumps(changes.pop("response", chat_response()))
        .decode()
        .replace('"prompt_tokens":31', f'"prompt_tokens":{tokens}')
    )
    event = capture_event(call_id=call_id, time=time, response=response, status=200, **changes)
    if api_version is not None:
        event["api"]["version"] = api_version
    return encode(event).replace(b'"status":200', f'"status":{status}'.encode())


# kind -> (what becomes of it, its bytes for a call id and a time)
KINDS = {
    "good": ("recorded", lambda i, t, n: _capture(i, t)),
    "nul in prompt": (
        "cut",
        lambda i, t, n: _capture(
            i, t, request={"model": "gpt-4o", "messages": [{"role": "user", "content": "a\x00b"}]}
        ),
    ),
    "nul in raw body": ("cut", lambda i, t, n: _capture(i, t, request="not json \x00 at all")),
    "300-char model": ("cut", lambda i, t, n: _capture(i, t, response=chat_response(model="m" * 300))),
    "300-char deployment": ("cut", lambda i, t, n: _capture(i, t, deployment="d" * 300)),
    "40-char api-version": ("cut", lambda i, t, n: _capture(i, t, api_version="2024-10-21-" + "v" * 29)),
    "NaN duration": ("cut", lambda i, t, n: _capture(i, t, total_ms="NaN")),
    "Infinity duration": ("cut", lambda i, t, n: _capture(i, t, total_ms="Infinity")),
    "cached near 2^63": ("dead", lambda i, t, n: _capture(i, t, response=chat_response(cached=2**63 - 2))),
    "tokens beyond 64 bits": ("dead", lambda i, t, n: _capture(i, t, prompt_tokens=BEYOND_64_BITS)),
    "status beyond 64 bits": ("dead", lambda i, t, n: _capture(i, t, status=BEYOND_64_BITS)),
    "status 1000": ("dead", lambda i, t, n: _capture(i, t, status=1000)),
    "year 9999": ("dead", lambda i, t, n: _capture(i, "9999-12-31T23:59:59Z")),
    "year 1990": ("dead", lambda i, t, n: _capture(i, "1990-01-01T00:00:00Z")),
    "100-char call id": ("dead", lambda i, t, n: _capture(i + "x" * 100, t)),
    "refused by the store": ("dead", lambda i, t, n: _capture(i, t, response=chat_response(model=REFUSED_MODEL))),
    "not json": ("dead", lambda i, t, n: b"\x00\xff not json " + i.encode()),
    "any names": (
        "any",
        lambda i, t, n: _capture(i, t, deployment=n[0] or "d", user_id=n[1], subscription_id=n[2], ip=n[3]),
    ),
}
REPEAT = "repeat of the previous event"
RECORDED = ("recorded", "cut", "any")


def _batch(
    kinds: list[str], hours: list[int], names: list[str] = ("",) * 4
) -> tuple[list[IncomingEvent], list[str], list[str]]:
    """Events, what should become of each ("cut": recorded and flagged; "any": recorded, flagged or not), and
    the call id each carries."""
    events, expected, call_ids = [], [], []
    for kind, hour in zip(kinds, hours, strict=False):  # at least an hour per kind; the rest go unused
        if kind == REPEAT and events:
            events.append(IncomingEvent(events[-1].body, source=f"test:{len(events)}"))
            expected.append("dead" if expected[-1] == "dead" else "duplicate")
            call_ids.append(call_ids[-1])
            continue
        kind = "good" if kind == REPEAT else kind
        call_id = f"poison-{next(_ids)}"
        time = (NOVEMBER + timedelta(hours=hour, minutes=hour % 60)).isoformat().replace("+00:00", "Z")
        outcome, build = KINDS[kind]
        events.append(IncomingEvent(build(call_id, time, names), source=f"test:{len(events)}"))
        expected.append(outcome)
        call_ids.append(call_id)
    return events, expected, call_ids


def _scan(conn, start: datetime, end: datetime) -> list[tuple]:
    """The calls table read directly: per model, calls, total and cached tokens."""
    rows = conn.execute(
        select(calls.c.model, func.count(), func.sum(calls.c.total_tokens), func.sum(calls.c.cached_tokens))
        .where(calls.c.time >= start.replace(tzinfo=None), calls.c.time < end.replace(tzinfo=None))
        .group_by(calls.c.model)
    ).all()
    return sorted(tuple(row) for row in rows)


def _report(conn, start: datetime, end: datetime) -> list[tuple]:
    rows = query_usage(conn, UsageQuery(start, end, ("model",))).rows
    return sorted((r["model"], r["requests"], r["totalTokens"], r["cachedTokens"]) for r in rows)


def _check_accounted(store: SqlStore, report, events, expected, call_ids) -> None:
    assert report.events == len(events)
    assert report.recorded + report.duplicates + report.pending + report.dead_lettered + report.ignored == len(events)
    assert report.recorded == sum(e in RECORDED for e in expected)
    assert report.duplicates == expected.count("duplicate")
    assert report.dead_lettered == expected.count("dead") and report.pending == 0
    with store.read() as conn:
        rows = conn.execute(select(calls).where(calls.c.call_id.in_(set(call_ids)))).mappings().all()
        stored = {row["call_id"]: row["truncated"] for row in rows}
        letters = dict(conn.execute(select(dead_letters.c.raw_sha256, dead_letters.c.reason)).all())
    for event, outcome, call_id in zip(events, expected, call_ids, strict=True):
        if outcome == "dead":
            assert call_id not in stored
            reason = letters[hashlib.sha256(event.body).hexdigest()]
            assert reason
            if REFUSED_MODEL.encode() in event.body:  # the database's own message
                assert "the store refused call" in reason and "refuse_model" in reason
        elif outcome in ("recorded", "cut"):
            assert bool(stored[call_id]) is (outcome == "cut"), (outcome, call_id)
        else:
            assert call_id in stored
    for row in rows:  # what was stored fits every store (SQLite keeps anything; PostgreSQL would have refused)
        for name, limit in CALL_TEXT.items():
            assert row[name] is None or ("\x00" not in row[name] and limit.size(row[name]) <= limit.length), name
    assert len(stored) == len({c for c, e in zip(call_ids, expected, strict=True) if e != "dead"})  # each recorded once


def test_any_batch_with_any_poison_records_the_good_events_once_and_the_reports_match_the_calls(any_store):
    refuse_model(any_store)
    context = make_context(any_store)
    sqlite = any_store.dialect == "sqlite"

    @settings(
        max_examples=40 if sqlite else 20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        kinds=st.lists(st.sampled_from([*KINDS, REPEAT]), min_size=1, max_size=24),
        hours=st.lists(st.integers(0, 29 * 24), min_size=24, max_size=24),
        slice_size=st.integers(1, 30),
        window=st.tuples(st.integers(0, 30 * 24), st.integers(1, 30 * 24)),
        names=st.lists(st.text(max_size=300), min_size=4, max_size=4),
    )  # NUL, emoji, any length
    def run(kinds, hours, slice_size, window, names):
        events, expected, call_ids = _batch(kinds, hours, names)
        context.ingestor.slice_size = slice_size
        _check_accounted(any_store, context.ingestor.ingest_batch(events), events, expected, call_ids)
        # A later batch of ordinary calls at the same hours and model is unaffected.
        later, later_expected, later_ids = _batch(["good"] * 3, hours[:3])
        _check_accounted(any_store, context.ingestor.ingest_batch(later), later, later_expected, later_ids)
        start = NOVEMBER + timedelta(hours=window[0])
        with any_store.read() as conn:
            for span in ((NOVEMBER, NOVEMBER + timedelta(days=30)), (start, start + timedelta(hours=window[1]))):
                assert _report(conn, *span) == _scan(conn, *span), span

    run()


def test_the_call_the_database_refuses_is_dead_lettered_with_its_message_and_the_rest_recorded(any_store):
    refuse_model(any_store)
    context = make_context(any_store)
    kinds = ["good"] * 4 + ["refused by the store"] + ["good"] * 4 + ["refused by the store"]
    events, expected, call_ids = _batch(kinds, list(range(10)))
    report = context.ingestor.ingest_batch(events)
    assert report.as_json() == {"events": 10, "recorded": 8, "duplicates": 0, "deadLettered": 2, "pending": 0}
    _check_accounted(any_store, report, events, expected, call_ids)
    with any_store.read() as conn:
        assert _report(conn, NOVEMBER, NOVEMBER + timedelta(days=1)) == [("gpt-4o-2024-08-06", 8, 8 * 73, 0)]


def test_a_pair_the_database_refuses_leaves_both_halves_as_dead_letters_and_nothing_waiting(any_store):
    refuse_model(any_store)
    context = make_context(any_store)
    request, response = dict(LEGACY_REQUEST), dict(LEGACY_RESPONSE, model=REFUSED_MODEL)
    assert context.ingestor.ingest_batch([IncomingEvent(encode(request))]).pending == 1
    report = context.ingestor.ingest_batch([IncomingEvent(encode(response)), IncomingEvent(encode(capture_event()))])
    assert (report.recorded, report.dead_lettered) == (1, 1)
    with any_store.read() as conn:
        raws = {bytes(raw) for raw in conn.execute(select(dead_letters.c.raw)).scalars()}
        waiting = conn.execute(select(func.count()).select_from(pending_parts)).scalar_one()
    assert raws == {encode(request), encode(response)} and waiting == 0


def test_a_call_with_cached_tokens_near_2_63_poisons_no_later_batch(any_store):
    context = make_context(any_store)
    first, _, _ = _batch(["cached near 2^63", "good"], [5, 5])
    assert context.ingestor.ingest_batch(first).as_json()["deadLettered"] == 1
    for _ in range(2):  # the same model and hour, batch after batch
        later, _, _ = _batch(["good", "good"], [5, 5])
        assert context.ingestor.ingest_batch(later).recorded == 2
    with any_store.read() as conn:
        assert _report(conn, NOVEMBER, NOVEMBER + timedelta(days=30)) == [("gpt-4o-2024-08-06", 5, 5 * 73, 0)]


def test_replay_of_a_file_holding_every_hostile_kind_reports_each_event_and_keeps_going(tmp_path):
    env = devhost_env(tmp_path)
    store = SqlStore.from_url(env["LEDGER_SQL_URL"])
    refuse_model(store)
    store.dispose()
    kinds = [kind for kind in KINDS for _ in (0, 1)]  # each kind twice, the second a repeat of the first
    events, expected, _ = _batch([k if n % 2 == 0 else REPEAT for n, k in enumerate(kinds)], list(range(len(kinds))))
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(e.body.replace(b"\n", b" ") for e in events) + b"\n")
    result = run_devhost(["replay", str(path), "--json", "--batch-size", "5"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "events": len(events),
        "recorded": sum(e in RECORDED for e in expected),
        "duplicates": expected.count("duplicate"),
        "deadLettered": expected.count("dead"),
        "pending": 0,
    }


def test_retrying_a_call_that_still_cannot_be_stored_leaves_its_letter_open_with_the_reason(any_store):
    from shared.reports.deadletters import retry_dead_letter

    context = make_context(any_store)
    events, _, _ = _batch(["year 9999"], [0])
    context.ingestor.ingest_batch(events)
    with any_store.read() as conn:
        letter_id = conn.execute(select(dead_letters.c.id)).scalar_one()
    outcome = retry_dead_letter(any_store, context.ingestor, letter_id)
    assert (outcome.outcome, outcome.status) == ("dead", "open") and "outside the window" in outcome.reason


def test_azure_monitor_calls_are_bounded_too_and_a_refused_one_leaves_its_records_as_dead_letters(any_store):
    from shared.jobs.pending_sweep import sweep_pending
    from tests.monitor_builders import gateway_record, llm_records

    context = make_context(any_store, LEDGER_MONITOR_JOIN_SECONDS="0")
    long_deployment, messages = "d" * 300, [{"role": "user", "content": "a\x00b"}]
    cut = [
        gateway_record("mon-cut", deployment=long_deployment),
        *llm_records("mon-cut", messages, "ok", prompt_tokens=5, completion_tokens=1, deployment=long_deployment),
    ]
    refused = [
        gateway_record("mon-refused"),
        *llm_records("mon-refused", messages, "ok", prompt_tokens=2**63 - 1, completion_tokens=1),
    ]
    report = context.ingestor.ingest_batch([IncomingEvent(orjson.dumps({"records": [r]})) for r in cut + refused])
    assert (report.recorded, report.dead_lettered) == (len(cut), len(refused))
    assert sweep_pending(context) == {"recorded": 0, "merged": 0}  # the refused call's parts: refused again, dropped
    with any_store.read() as conn:
        row = conn.execute(select(calls)).mappings().one()
        letters = [orjson.loads(raw) for raw in conn.execute(select(dead_letters.c.raw)).scalars()]
        waiting = conn.execute(select(func.count()).select_from(pending_parts)).scalar_one()
    assert row["call_id"] == "mon-cut" and len(row["deployment"]) == 256 and row["truncated"]
    assert sorted(map(orjson.dumps, letters)) == sorted(map(orjson.dumps, refused)) and waiting == 0
