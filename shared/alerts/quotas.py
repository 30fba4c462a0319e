"""Quotas: a token and/or USD limit per scope and calendar period, and where each one stands right now.

Periods are calendar days, ISO weeks (Monday first) and months in `LEDGER_TIMEZONE`, so a Paris team's month
starts at midnight in Paris, not in UTC. Usage comes from the rollups through `query_usage`, the same totals
`GET /api/usage` shows. The forecast is linear at the period-to-date rate: simple, explainable in an email,
and it never claims more precision than a month of bursty traffic allows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, select, update

from shared.reports.teams import Teams
from shared.reports.usage import KEY_COLUMNS, UsageQuery, query_usage
from shared.store.bounds import text_limits
from shared.store.schema import usage_daily
from shared.store.schema_alerts import quotas
from shared.store.times import iso_utc, naive_utc

logger = logging.getLogger(__name__)

SCOPE_TYPES = ("subscription", "user", "app", "product", "model", "team")  # team: LEDGER_TEAMS_FILE
PERIODS = ("day", "week", "month")
DEFAULT_THRESHOLDS = (50, 80, 100)
_FIELDS = {"scopeType", "scopeId", "period", "limitTokens", "limitCostUsd", "thresholds", "notify"}
MAX_LIMIT_TOKENS = 2**63 - 1  # limit_tokens is a BIGINT
MAX_LIMIT_COST_USD = 1e15  # finite (a JSON file may say Infinity) and far beyond any budget
_SCOPE_ID_COLUMN = text_limits(quotas)["scope_id"].length  # NVARCHAR on Azure SQL: counted in UTF-16 units
_NOTIFY_COLUMN = text_limits(quotas)["notify"].length


class QuotaError(ValueError):
    """A quota definition is invalid; `field` names the offending field for the 400 problem."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


@dataclass(frozen=True)
class Quota:
    scope_type: str
    scope_id: str
    period: str
    limit_tokens: int | None
    limit_cost_usd: float | None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    notify: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "scopeType": self.scope_type,
            "scopeId": self.scope_id,
            "period": self.period,
            "limitTokens": self.limit_tokens,
            "limitCostUsd": self.limit_cost_usd,
            "thresholds": list(self.thresholds),
            "notify": list(self.notify),
        }


@dataclass(frozen=True)
class QuotaStatus:
    period_start: datetime
    period_end: datetime
    used_tokens: int
    used_cost_usd: float | None
    percent: float
    forecast_percent: float | None
    forecast_full_at: datetime | None  # when 100 % is reached at the current rate, if within the period
    crossed: tuple[int, ...]
    # period length / time elapsed: what the figures so far become at period end at the same rate
    forecast_scale: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "periodStart": iso_utc(self.period_start),
            "periodEnd": iso_utc(self.period_end),
            "usedTokens": self.used_tokens,
            "usedCostUsd": self.used_cost_usd,
            "percent": self.percent,
            "forecastPercent": self.forecast_percent,
            "forecastFullAt": iso_utc(self.forecast_full_at) if self.forecast_full_at else None,
            "crossed": list(self.crossed),
        }


def quota_from_json(body: Any, scope_type: str | None = None, scope_id: str | None = None) -> Quota:
    """Validate a quota in the contract's shape; the path gives the scope for PUT, the body for the file."""
    if not isinstance(body, dict):
        raise QuotaError("body", "must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise QuotaError(unknown[0], "is not a quota field")
    scope_type = scope_type if scope_type is not None else body.get("scopeType")
    scope_id = scope_id if scope_id is not None else body.get("scopeId")
    if scope_type not in SCOPE_TYPES:
        raise QuotaError("scopeType", f"must be one of {', '.join(SCOPE_TYPES)}")
    if (
        not isinstance(scope_id, str)
        or not scope_id.strip()
        or _utf16_units(scope_id) > _SCOPE_ID_COLUMN
        or "\x00" in scope_id
    ):
        raise QuotaError("scopeId", f"must be a non-empty string of at most {_SCOPE_ID_COLUMN} characters, without NUL")
    period = body.get("period")
    if period not in PERIODS:
        raise QuotaError("period", f"must be one of {', '.join(PERIODS)}")
    limit_tokens = body.get("limitTokens")
    if limit_tokens is not None and (
        isinstance(limit_tokens, bool) or not isinstance(limit_tokens, int) or not 0 < limit_tokens <= MAX_LIMIT_TOKENS
    ):
        raise QuotaError("limitTokens", f"must be a whole number from 1 to {MAX_LIMIT_TOKENS}, or null")
    limit_cost = body.get("limitCostUsd")
    if limit_cost is not None and (
        isinstance(limit_cost, bool)
        or not isinstance(limit_cost, (int, float))
        or not 0 < limit_cost <= MAX_LIMIT_COST_USD
    ):
        raise QuotaError("limitCostUsd", f"must be a number above 0 and at most {MAX_LIMIT_COST_USD:.0e}, or null")
    if limit_tokens is None and limit_cost is None:
        raise QuotaError("limitTokens", "a quota needs limitTokens, limitCostUsd or both")
    thresholds = body.get("thresholds", list(DEFAULT_THRESHOLDS))
    if thresholds is None:
        thresholds = list(DEFAULT_THRESHOLDS)
    if (
        not isinstance(thresholds, list)
        or not thresholds
        or len(thresholds) > 10
        or any(isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 1000 for t in thresholds)
    ):
        raise QuotaError("thresholds", "must be a list of 1 to 10 whole percentages between 1 and 1000")
    notify = _addresses(body.get("notify") or [])
    return Quota(
        scope_type,
        scope_id.strip(),
        period,
        limit_tokens,
        float(limit_cost) if limit_cost is not None else None,
        tuple(sorted(set(thresholds))),
        notify,
    )


def _addresses(notify: Any) -> tuple[str, ...]:
    """Each address checked for mail-address syntax (no display names, CR/LF or other header breakers), once
    each; the list must fit its column."""
    from email_validator import EmailNotValidError, validate_email  # loaded where quotas are written, not at start

    if not isinstance(notify, list) or len(notify) > 50:
        raise QuotaError("notify", "must be a list of at most 50 email addresses")
    found: dict[str, None] = {}
    for index, address in enumerate(notify):
        if not isinstance(address, str) or len(address.strip()) > 254:
            raise QuotaError("notify", f"[{index}] must be an email address of at most 254 characters")
        try:
            found[validate_email(address.strip(), check_deliverability=False).normalized] = None
        except EmailNotValidError as exc:
            raise QuotaError("notify", f"[{index}] {address[:60]!r} is not an email address: {exc}") from None
    if len(json.dumps(list(found))) > _NOTIFY_COLUMN:
        raise QuotaError("notify", f"the addresses take more than the {_NOTIFY_COLUMN} characters a quota keeps")
    return tuple(found)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def period_bounds(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the calendar period containing `now`, in UTC, computed on the local calendar of `tz`."""
    local = now.astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    # Local midnights, made aware in the zone: DST days are 23 or 25 hours long, as they should be.
    return (start.replace(tzinfo=tz).astimezone(UTC), end.replace(tzinfo=tz).astimezone(UTC))


def quota_status(conn: Connection, quota: Quota, now: datetime, tz: ZoneInfo, teams: Teams | None) -> QuotaStatus:
    """Where the quota stands; a team's usage is its calls as the teams file maps them now (none for a team the
    file no longer has)."""
    start, end = period_bounds(quota.period, now, tz)
    now = min(max(now, start), end)
    totals = query_usage(conn, scope_query(quota, start, now, teams)).totals
    return status_of(quota, start, end, now, int(totals["totalTokens"]), totals["costUsd"])


def scope_query(quota: Quota, start: datetime, end: datetime, teams: Teams | None, group_by=()) -> UsageQuery:
    return UsageQuery(start, end, tuple(group_by), {quota.scope_type: quota.scope_id}, teams=teams)


def unseen_scope_warning(conn: Connection, quota: Quota) -> str | None:
    """A warning when no call of the quota's scope was ever recorded: a quota on a mistyped id is accepted (the
    scope may simply not have called yet) but would silently never fire. Read from the daily rollup, which keeps
    every day's keys after the calls themselves are purged."""
    column = KEY_COLUMNS.get(quota.scope_type)
    if column is None:
        return None
    seen = conn.execute(select(usage_daily.c.day).where(usage_daily.c[column] == quota.scope_id).limit(1)).first()
    if seen is not None:
        return None
    return (
        f"no calls seen for {quota.scope_type} {quota.scope_id!r} yet; check the id "
        f"(quotas match the {quota.scope_type} ids GET /api/usage?groupBy={quota.scope_type} shows)"
    )


def status_of(
    quota: Quota, start: datetime, end: datetime, now: datetime, used_tokens: int, used_cost: float | None
) -> QuotaStatus:
    """The status figures from the totals: the highest share of either limit counts."""
    shares = []
    if quota.limit_tokens:
        shares.append(used_tokens / quota.limit_tokens)
    if quota.limit_cost_usd:
        shares.append((used_cost or 0.0) / quota.limit_cost_usd)
    share = max(shares) if shares else 0.0
    elapsed = (now - start).total_seconds()
    length = (end - start).total_seconds()
    forecast_share = share * length / elapsed if elapsed > 0 else None
    full_at = None
    if 0 < share < 1 and elapsed > 0 and elapsed / share < length:  # a tiny share would be a date past the calendar
        moment = (start + timedelta(seconds=elapsed / share)).replace(microsecond=0)
        full_at = moment if moment < end else None
    percent = round(share * 100, 2)
    return QuotaStatus(
        start,
        end,
        used_tokens,
        None if used_cost is None else round(used_cost, 6),
        percent,
        None if forecast_share is None else round(forecast_share * 100, 2),
        full_at,
        tuple(t for t in quota.thresholds if share * 100 >= t),
        length / elapsed if elapsed > 0 else None,
    )


# --- the store -------------------------------------------------------------------------------------------


def _from_row(row: Any) -> Quota:
    return Quota(
        row["scope_type"],
        row["scope_id"],
        row["period"],
        row["limit_tokens"],
        row["limit_cost_usd"],
        tuple(json.loads(row["thresholds"])),
        tuple(json.loads(row["notify"])),
    )


def list_quotas(conn: Connection) -> list[Quota]:
    rows = conn.execute(select(quotas).order_by(quotas.c.scope_type, quotas.c.scope_id)).mappings()
    return [_from_row(row) for row in rows]


def get_quota(conn: Connection, scope_type: str, scope_id: str) -> Quota | None:
    row = conn.execute(select(quotas).where(_key(scope_type, scope_id))).mappings().first()
    return _from_row(row) if row else None


def _key(scope_type: str, scope_id: str):
    return and_(quotas.c.scope_type == scope_type, quotas.c.scope_id == scope_id)


def put_quota(conn: Connection, quota: Quota, managed_by: str = "api", now: datetime | None = None) -> None:
    """Create or replace a quota (update first, insert when absent: portable across the three dialects)."""
    values = {
        "period": quota.period,
        "limit_tokens": quota.limit_tokens,
        "limit_cost_usd": quota.limit_cost_usd,
        "thresholds": json.dumps(list(quota.thresholds)),
        "notify": json.dumps(list(quota.notify)),
        "managed_by": managed_by,
        "updated_at": naive_utc(now or datetime.now(UTC)),
    }
    if conn.execute(update(quotas).where(_key(quota.scope_type, quota.scope_id)).values(values)).rowcount == 0:
        conn.execute(quotas.insert().values(scope_type=quota.scope_type, scope_id=quota.scope_id, **values))


def delete_quota(conn: Connection, scope_type: str, scope_id: str) -> bool:
    return conn.execute(delete(quotas).where(_key(scope_type, scope_id))).rowcount > 0


def read_quota_file(path: Path) -> list[Quota]:
    """The quotas of `LEDGER_QUOTAS_FILE`: a JSON list in the API's shape, with scopeType and scopeId."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QuotaError("LEDGER_QUOTAS_FILE", f"cannot read {path}: {exc}") from None
    if not isinstance(entries, list):
        raise QuotaError("LEDGER_QUOTAS_FILE", "must hold a JSON list of quotas")
    found = []
    for index, entry in enumerate(entries):
        try:
            found.append(quota_from_json(entry))
        except QuotaError as exc:
            raise QuotaError(f"LEDGER_QUOTAS_FILE[{index}].{exc.field}", exc.detail) from None
    return found


def sync_quota_file(conn: Connection, path: Path | None) -> int:
    """Make the store hold exactly the file's quotas among those the file manages; returns rows changed.

    Idempotent: unchanged entries are not rewritten, so running it on every check costs one read. An entry
    removed from the file is removed from the store; quotas created through the API are left alone.
    """
    if path is None:
        return 0
    wanted = {(q.scope_type, q.scope_id): q for q in read_quota_file(path)}
    rows = {(r["scope_type"], r["scope_id"]): r for r in conn.execute(select(quotas)).mappings()}
    changed = 0
    for key, quota in wanted.items():
        row = rows.get(key)
        if row is None or row["managed_by"] != "file" or _from_row(row) != quota:
            put_quota(conn, quota, managed_by="file")
            changed += 1
    for key, row in rows.items():
        if row["managed_by"] == "file" and key not in wanted:
            delete_quota(conn, *key)
            changed += 1
    if changed:
        logger.info("quota file %s: %d quota(s) created, changed or removed", path, changed)
    return changed
