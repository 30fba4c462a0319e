"""The seed architecture's two example reports: tokens by caller IP and model, and recent prompt text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from shared.reports.usage import UsageQuery, UsageResult, query_usage
from shared.store.schema import call_payloads, calls
from shared.store.times import aware_utc


def tokens_by_ip_and_model(conn: Connection, start: datetime, end: datetime) -> UsageResult:
    """Rows by (ip, model), most tokens first, and their totals."""
    return query_usage(conn, UsageQuery(start, end, ("ip", "model")))


def recent_prompts(conn: Connection, *, limit: int = 10, width: int = 100) -> list[dict[str, Any]]:
    """The newest calls with text, prompt and completion cut to `width` characters (as the seed's KQL does)."""
    query = (
        select(
            calls.c.time,
            calls.c.ip,
            calls.c.model,
            calls.c.total_tokens,
            call_payloads.c.prompt_text,
            call_payloads.c.completion_text,
        )
        .join(call_payloads, call_payloads.c.call_id == calls.c.call_id)
        .where(call_payloads.c.prompt_text.is_not(None))
        .order_by(calls.c.time.desc(), calls.c.call_id.desc())
        .limit(limit)
    )
    return [
        {
            "time": aware_utc(row.time).strftime("%Y-%m-%d %H:%M:%S"),
            "ip": row.ip,
            "model": row.model,
            "totalTokens": row.total_tokens,
            "prompt": _cut(row.prompt_text, width),
            "completion": _cut(row.completion_text, width),
        }
        for row in conn.execute(query)
    ]


def prompt_totals(conn: Connection) -> dict[str, int]:
    """How many calls have prompt text, and their tokens: the totals line under `recent_prompts`."""
    query = (
        select(func.count(), func.coalesce(func.sum(calls.c.total_tokens), 0))
        .select_from(calls.join(call_payloads, call_payloads.c.call_id == calls.c.call_id))
        .where(call_payloads.c.prompt_text.is_not(None))
    )
    count, tokens = conn.execute(query).one()
    return {"calls": int(count), "totalTokens": int(tokens)}


def _cut(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_table(
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    totals: dict[str, Any] | None = None,
    max_width: int | None = None,
) -> str:
    """A plain-text table for the terminal: numbers right-aligned, text left-aligned, an optional totals row
    under a rule, and the last column cut (with "…") so no line is wider than `max_width`."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.4f}"
        return str(value)

    every = rows + ([totals] if totals is not None else [])
    cells = [[cell(row.get(c)) for c in columns] for row in every]
    numeric = [all(isinstance(row.get(c), (int, float)) or row.get(c) is None for row in rows) for c in columns]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    if max_width is not None and sum(widths) + 2 * (len(widths) - 1) > max_width:
        widths[-1] = max(len(columns[-1]), max_width - sum(widths[:-1]) - 2 * (len(widths) - 1))
        cells = [[*r[:-1], _cut(r[-1], widths[-1])] for r in cells]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(columns), rule] + [line(r) for r in cells[: len(rows)]]
    if totals is not None:
        out += [rule, line(cells[-1])]
    return "\n".join(out)
