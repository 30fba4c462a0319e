"""The audit list and one call in full: what auditors and `GET /api/requests[/{id}]` read.

The list is newest first by (time, call_id) and walked with an opaque cursor that carries the last position
and a snapshot bound (the newest `ingested_at` when the walk began). Calls ingested after the first page are
left out of the walk, so every call that existed when it began is visited exactly once while ingest runs on.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select

from shared.reports.names import id_or_named
from shared.reports.teams import TEAM_KEYS, Teams, team_condition, with_ids_of_names
from shared.reports.usage import KEY_COLUMNS
from shared.store.bounds import text_limits
from shared.store.records import CallRecord
from shared.store.schema import call_payloads, calls
from shared.store.times import iso_utc, naive_utc, stored_time
from shared.store.writes import load_calls

LIST_FIELDS = {  # contract field -> calls column, in the contract's order (then its v1.1 additions)
    "requestId": "call_id",
    "time": "time",
    "operation": "operation",
    "deployment": "deployment",
    "model": "model",
    "user": "user_id",
    "userName": "user_name",
    "subscription": "subscription_id",
    "subscriptionName": "subscription_name",
    "app": "app_id",
    "ip": "ip",
    "status": "status",
    "durationMs": "duration_ms",
    "promptTokens": "prompt_tokens",
    "completionTokens": "completion_tokens",
    "totalTokens": "total_tokens",
    "costUsd": "cost_usd",
    "streamed": "streamed",
    "tokensEstimated": "tokens_estimated",
    "endUser": "end_user",  # v1.1, after the contract's own fields: the app's user (`safety_identifier` or `user`)
}
_BOOLEAN_FIELDS = ("streamed", "tokensEstimated")
_MAX_CALL_ID = text_limits(calls)["call_id"].length


SCAN_BUDGET = 50_000  # calls a filtered page examines at most (~0.3 s on SQLite whatever the ledger holds)


class BadCursor(ValueError):
    """The cursor is not one this API handed out."""


@dataclass(frozen=True)
class Cursor:
    time: datetime  # naive UTC, as stored
    call_id: str
    snapshot: datetime  # naive UTC: calls ingested later are not part of this walk

    def encode(self) -> str:
        doc = {"t": self.time.isoformat(), "id": self.call_id, "s": self.snapshot.isoformat()}
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor `encode` wrote; anything else (garbage, other JSON, times past the calendar in UTC, an
        id no call can have) raises BadCursor before it comes near a query."""
        try:
            doc = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            call_id = doc["id"]
            if not isinstance(call_id, str) or not 0 < len(call_id) <= _MAX_CALL_ID or "\x00" in call_id:
                raise ValueError(call_id)
            call_id.encode("utf-8")  # a lone surrogate cannot be bound
            return cls(
                naive_utc(datetime.fromisoformat(doc["t"])), call_id, naive_utc(datetime.fromisoformat(doc["s"]))
            )
        except (
            binascii.Error,
            KeyError,
            TypeError,
            ValueError,
            OverflowError,
        ):  # JSON and Unicode errors are ValueErrors
            raise BadCursor("not a cursor this API handed out; start again without one") from None


@dataclass(frozen=True)
class AuditQuery:
    start: datetime
    end: datetime
    filters: dict[str, str] = field(default_factory=dict)
    only_user: str | None = None  # Usage.Read callers list their own calls only
    limit: int = 100
    cursor: Cursor | None = None
    scan_budget: int = SCAN_BUDGET
    teams: Teams | None = None  # what a `team` or `costCenter` filter means (LEDGER_TEAMS_FILE)


@dataclass
class AuditPage:
    items: list[dict[str, Any]]
    next_cursor: Cursor | None


def list_calls(conn: Connection, query: AuditQuery) -> AuditPage:
    """One page of the audit list (metadata only), newest first.

    With key filters, a page examines at most `scan_budget` calls of the walk: a filter that matches rarely over
    years of calls answers in a fraction of a second with what it found (maybe nothing) and a cursor that goes on
    after the last call examined, so walking the cursors still visits every matching call exactly once.
    """
    snapshot = query.cursor.snapshot if query.cursor else conn.execute(select(func.max(calls.c.ingested_at))).scalar()
    if snapshot is None:  # nothing ingested yet
        return AuditPage([], None)
    walk = [
        calls.c.time >= naive_utc(query.start),
        calls.c.time < naive_utc(query.end),
        calls.c.ingested_at <= snapshot,
    ]
    if query.only_user is not None:
        walk.append(calls.c.user_id == query.only_user)
    if query.cursor is not None:
        after = query.cursor
        walk.append(or_(calls.c.time < after.time, and_(calls.c.time == after.time, calls.c.call_id < after.call_id)))
    newest_first = (calls.c.time.desc(), calls.c.call_id.desc())
    boundary = None  # the last call this page may examine
    if query.filters:
        boundary = conn.execute(
            select(calls.c.time, calls.c.call_id)
            .where(and_(*walk))
            .order_by(*newest_first)
            .offset(query.scan_budget - 1)
            .limit(1)
        ).first()
    conditions = list(walk)
    if boundary is not None:
        conditions.append(
            or_(calls.c.time > boundary.time, and_(calls.c.time == boundary.time, calls.c.call_id >= boundary.call_id))
        )
    teams = query.teams
    if teams is not None and any(key in query.filters for key in TEAM_KEYS):
        teams = with_ids_of_names(conn, teams)  # a team's lists hold ids or names
    for name, value in query.filters.items():
        if name in TEAM_KEYS:
            conditions.append(team_condition(calls, teams, name, value))
            continue
        wanted = id_or_named(conn, name, value)  # a named key matches its id or its name
        column = calls.c[KEY_COLUMNS[name]]
        conditions.append(
            column.in_(wanted) if isinstance(wanted, tuple) else column == (int(value) if name == "status" else value)
        )
    statement = (
        select(*[calls.c[column] for column in LIST_FIELDS.values()])
        .where(and_(*conditions))
        .order_by(*newest_first)
        .limit(query.limit + 1)  # one more than asked: tells whether another page exists
    )
    rows = conn.execute(statement).mappings().all()
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = Cursor(naive_utc(last["time"]), last["call_id"], naive_utc(snapshot))
    elif boundary is not None:  # the budget ran out before the range did
        next_cursor = Cursor(naive_utc(stored_time(boundary.time)), boundary.call_id, naive_utc(snapshot))
    return AuditPage([_list_item(row) for row in page], next_cursor)


def _list_item(row: Any) -> dict[str, Any]:
    item = {name: row[column] for name, column in LIST_FIELDS.items()}
    item["time"] = iso_utc(row["time"])
    for name in _BOOLEAN_FIELDS:
        item[name] = bool(item[name])
    return item


def call_detail(conn: Connection, call_id: str) -> dict[str, Any] | None:
    """One call in full: the list fields plus parameters, text, filter results and what may be missing."""
    record = load_calls(conn, [call_id], with_payload=True).get(call_id)
    if record is None:
        return None
    purged_at = conn.execute(select(call_payloads.c.purged_at).where(call_payloads.c.call_id == call_id)).scalar()
    return detail_of(record) | {"textPurged": purged_at is not None, "redactions": record.redactions or {}}


def detail_of(record: CallRecord) -> dict[str, Any]:
    item = {name: getattr(record, column) for name, column in LIST_FIELDS.items()}
    item["time"] = iso_utc(record.time)
    return item | {
        "request": record.request_params,
        "promptText": record.prompt_text,
        "completionText": record.completion_text,
        "finishReason": record.finish_reason,
        "toolCalls": record.tool_calls,
        "contentFilter": record.content_filter,
        "cachedTokens": record.cached_tokens,
        "reasoningTokens": record.reasoning_tokens,
        "truncated": record.truncated,
        "tokensEstimated": record.tokens_estimated,
        # beyond the contract: why text or tokens may be incomplete, and where the call went
        "bodyMissing": record.body_missing,
        "streamIncomplete": record.stream_incomplete,
        "contentFiltered": record.content_filtered,
        "errorCode": record.error_code,
        "errorMessage": record.error_message,
        "product": record.product_id,
        "backend": record.backend_id,
        "apiVersion": record.api_version,
        "source": record.source,
    }
