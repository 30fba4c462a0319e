"""What a usage report holds, computed the slow way from raw call rows: the tests' oracle for the rollups."""

from __future__ import annotations

from datetime import datetime

from shared.reports.usage import KEY_COLUMNS, UsageQuery
from shared.store.records import CallRecord
from shared.store.times import aware_utc


def report_key(row: dict, query: UsageQuery) -> tuple | None:
    """The key of the report row a raw call row counts in, or None when the query's range, filters or caller
    leave it out."""
    moment = aware_utc(row["time"])
    if not (query.start <= moment < query.end):
        return None
    if any(str(row[KEY_COLUMNS[k]]) != v for k, v in query.filters.items()):
        return None
    if query.only_user is not None and row["user_id"] != query.only_user:
        return None
    return tuple(
        moment.strftime("%Y-%m-%d")
        if k == "day"
        else moment.strftime("%Y-%m-%dT%H:00:00Z")
        if k == "hour"
        else row[KEY_COLUMNS[k]]
        for k in query.group_by
    )


def chat_call(call_id: str, time: datetime, tokens: int, deployment: str, user: str, cost: float | None) -> CallRecord:
    """A successful chat call of `tokens` prompt tokens."""
    return CallRecord(
        call_id=call_id,
        time=time,
        source="capture/v1",
        operation="chat.completions",
        status=200,
        prompt_tokens=tokens,
        completion_tokens=0,
        total_tokens=tokens,
        cost_usd=cost,
        deployment=deployment,
        user_id=user,
    )
