"""The ledger's schema, defined once: created on first use locally, rendered to `infra/sql/schema.sql` for Azure.

Numbers (`calls`) and text (`call_payloads`) live apart so retention can drop text and keep usage. The
rollups hold the same figures per hour and per day; they are written in the same transaction as the calls,
so they are exact under duplicates and late arrivals. Dimension columns in rollups use '' for "unknown"
because NULLs never collide in a unique key, and a rollup needs them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Unicode,
    UnicodeText,
)
from sqlalchemy.dialects.mssql import DATETIME2

from shared.store.measures import measure_columns

metadata = MetaData()

ID = String(64)
NAME = Unicode(256)  # user and subscription names are not ASCII everywhere
UTC_TIME = DateTime().with_variant(DATETIME2(), "mssql")  # naive UTC; DATETIME2 keeps sub-ms precision

calls = Table(
    "calls",
    metadata,
    Column("call_id", ID, primary_key=True),
    Column("time", UTC_TIME, nullable=False),
    Column("hour", UTC_TIME, nullable=False),
    Column("ingested_at", UTC_TIME, nullable=False),
    Column("source", String(64), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("api_operation_id", NAME),
    Column("api_version", String(32)),
    Column("deployment", NAME),
    Column("model", NAME),
    Column("ip", String(64)),
    Column("subscription_id", NAME),
    Column("subscription_name", NAME),
    Column("product_id", NAME),
    Column("user_id", NAME),
    Column("user_name", NAME),
    Column("app_id", NAME),
    Column("end_user", NAME),  # an app's own user, from the request body (`safety_identifier` or `user`)
    Column("tenant_id", NAME),
    Column("gateway", NAME),
    Column("region", NAME),
    Column("backend_id", NAME),
    Column("backend_url", String(512)),
    Column("status", Integer, nullable=False),
    Column("duration_ms", Float),
    Column("backend_ms", Float),
    Column("streamed", Boolean, nullable=False),
    Column("finish_reason", String(32)),
    Column("content_filtered", Boolean, nullable=False),
    Column("error_code", NAME),
    Column("error_message", String(1024)),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("tokens_estimated", Boolean, nullable=False),
    Column("cost_usd", Float),
    Column("truncated", Boolean, nullable=False),
    Column("body_missing", Boolean, nullable=False),
    Column("stream_incomplete", Boolean, nullable=False),
    Index("ix_calls_time", "time", "call_id"),  # the audit list walks (time, call_id) newest first
    Index("ix_calls_user_time", "user_id", "time", "call_id"),  # ... and a Usage.Read caller's own rows
    Index("ix_calls_subscription_time", "subscription_id", "time", "call_id"),
    Index("ix_calls_end_user_time", "end_user", "time", "call_id"),  # the audit list by end user, and their erasure
    Index("ix_calls_ingested_at", "ingested_at"),
    # A provisioned deployment's peak tokens per minute (/api/ptu) from the index alone, its calls of the range only.
    # Keys up to 1,040 bytes on SQL Server: within the 1,700 of a nonclustered index (SQL Server 2016+, Azure SQL;
    # https://learn.microsoft.com/sql/sql-server/maximum-capacity-specifications-for-sql-server).
    Index("ix_calls_deployment_time", "deployment", "time", "backend_id", "total_tokens"),
)

call_payloads = Table(
    "call_payloads",
    metadata,
    Column("call_id", ID, primary_key=True),
    Column("time", UTC_TIME, nullable=False),  # lets retention delete text by age without a join
    Column("request_params", UnicodeText),
    Column("prompt_text", UnicodeText),
    Column("completion_text", UnicodeText),
    Column("tool_calls", UnicodeText),
    Column("content_filter", UnicodeText),
    Column("request_body", UnicodeText),
    Column("response_body", UnicodeText),
    Column("redactions", String(256)),  # JSON {kind: count}: what masking before storage replaced
    Column("purged_at", UTC_TIME),  # set when retention or an erasure dropped the text (the numbers stay)
    Index("ix_call_payloads_time", "time"),
)
# Payload columns that are bookkeeping, not a CallRecord field.
PAYLOAD_KEYS = ("call_id", "time", "purged_at")

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTC_TIME, nullable=False),
    Column("raw_sha256", String(64), nullable=False, unique=True),  # a replayed bad event is kept once
    Column("event_id", ID),
    Column("source", String(256)),
    Column("reason", String(1024), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("call_id", ID),  # the call salvaged from it, or recorded by a retry
    Column("status", String(16), nullable=False),  # open | salvaged | resolved
    Column("resolved_at", UTC_TIME),
    Index("ix_dead_letters_received", "received_at"),
)

pending_parts = Table(
    "pending_parts",
    metadata,
    Column("kind", String(32), nullable=False),  # legacy | monitor | claim
    Column("part_key", ID, nullable=False),  # the call the part belongs to
    Column("part", String(64), nullable=False),  # which piece: request, response, llm:3:response, ...
    Column("received_at", UTC_TIME, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    PrimaryKeyConstraint("kind", "part_key", "part"),
    Index("ix_pending_parts_received", "received_at"),
)

ROLLUP_DIMENSIONS = (
    "subscription_id",
    "product_id",
    "user_id",
    "app_id",
    "ip",
    "model",
    "deployment",
    "operation",
    "backend_id",
    "status",
    "end_user",
)


def dimension_columns(dims: tuple[str, ...] = ROLLUP_DIMENSIONS) -> list[Column]:
    return [Column(dim, Integer if dim == "status" else NAME, nullable=False) for dim in dims]


def _rollup(name: str, bucket: str) -> Table:
    # The key is a hash of the dimensions: eleven wide text columns would exceed SQL Server's 900-byte index key.
    dims, measures = dimension_columns(), measure_columns()
    return Table(
        name,
        metadata,
        Column(bucket, UTC_TIME, nullable=False),
        Column("dims_key", String(32), nullable=False),
        *dims,
        *measures,
        PrimaryKeyConstraint(bucket, "dims_key", name=f"pk_{name}"),
    )


usage_hourly = _rollup("usage_hourly", "hour")
usage_daily = _rollup("usage_daily", "day")
# A provisioned deployment's hours (PTU shares by any key, `reports.ptu_costs`) read its own rows only.
Index("ix_usage_hourly_deployment", usage_hourly.c.deployment, usage_hourly.c.hour)


# Narrow rollups ("cuts"): the same figures keyed on a few dimensions only (the others stored as '' / 0).
# At real cardinality the wide rollup has nearly a row per call per hour, so a 30-day report by
# user and model would still read millions of rows; a cut on (user, model) reads a few thousand per day.
# A query uses the narrowest cut holding all its group and filter keys, else the wide rollup.
ROLLUP_CUTS: dict[str, tuple[str, ...]] = {
    "user,model": ("user_id", "model"),
    "ip,model": ("ip", "model"),
    "subscription,model": ("subscription_id", "model"),
    "app,model": ("app_id", "model"),
    # End users live behind an app: one cut answers "by end user", "by end user within an app" and with model.
    "app,end_user,model": ("app_id", "end_user", "model"),
    "service": ("product_id", "model", "deployment", "operation", "backend_id", "status"),
    # The four keys a team is drawn from (LEDGER_TEAMS_FILE, mapped at report time), and the model: a report by
    # team or cost centre, by model too, reads a row per caller instead of the wide rollup's row per call.
    "team": ("subscription_id", "product_id", "app_id", "user_id", "model"),
}


def _cut_rollup(name: str, bucket: str) -> Table:
    dims, measures = dimension_columns(), measure_columns()
    return Table(
        name,
        metadata,
        Column("cut", String(32), nullable=False),
        Column(bucket, UTC_TIME, nullable=False),
        Column("dims_key", String(32), nullable=False),
        *dims,
        *measures,
        # (cut, bucket) leads so a range of one cut is one contiguous slice; clustered on every engine.
        PrimaryKeyConstraint("cut", bucket, "dims_key", name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


usage_hourly_cuts = _cut_rollup("usage_hourly_cuts", "hour")
usage_daily_cuts = _cut_rollup("usage_daily_cuts", "day")


# Cumulative cuts: per cut, a key's figures summed from the start of a period through a bucket, with a row for
# every bucket from the key's first call of the period to the period's last materialized bucket (its mark).
# A whole-bucket range within a period is then one row per key (its last bucket) minus one (the bucket before
# it), however many buckets it spans. Sums restart each period, so keys that stopped calling (churned IPs)
# stop costing rows, and a late call updates at most the rest of its period. Two families:
# - month-to-date per day (`usage_cum_<cut>`): the whole days of a range, ~2 rows per key instead of ~30;
# - day-to-hour per hour (`usage_cumh_<cut>`): the whole hours at a range's first and last day, ~2 rows per
#   key instead of up to 23 (a "last 30 days" report spans both edges of a day: 24 hours of hourly rows).
@dataclass(frozen=True)
class Cumulative:
    bucket: str  # "day" | "hour": the bucket column of the tables
    period: str  # "month" | "day": sums restart at each
    tables: dict[str, Table]  # per cut
    marks: Table  # per period: (period, last): the last bucket materialized

    def period_of(self, bucket: datetime) -> datetime:
        return bucket.replace(day=1, hour=0) if self.period == "month" else bucket.replace(hour=0)

    def next_period(self, period: datetime) -> datetime | None:
        """The start of the period after `period` (None past year 9999)."""
        if self.period == "day":
            return period + timedelta(days=1) if period < datetime.max - timedelta(days=1) else None
        if period.month < 12:
            return period.replace(month=period.month + 1)
        return period.replace(year=period.year + 1, month=1) if period.year < 9999 else None

    @property
    def step(self) -> timedelta:
        return timedelta(days=1) if self.bucket == "day" else timedelta(hours=1)


def _cumulative(prefix: str, bucket: str, cut: str, kept: tuple[str, ...]) -> Table:
    name = prefix + cut.replace(",", "_")
    return Table(
        name,
        metadata,
        Column(bucket, UTC_TIME, nullable=False),
        Column("dims_key", String(32), nullable=False),  # the same hash as the cut tables' (all dimensions, masked)
        *dimension_columns(kept),
        *measure_columns(),
        PrimaryKeyConstraint(bucket, "dims_key", name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


def _marks(name: str, period: str, last: str) -> Table:
    # Writers update their period's row first: it serializes them per period (on SQLite the write lock already
    # does), so a bucket's rows are copied forward from a complete bucket.
    return Table(
        name,
        metadata,
        Column(period, UTC_TIME, nullable=False),
        Column(last, UTC_TIME, nullable=False),
        PrimaryKeyConstraint(period, name=f"pk_{name}"),
    )


usage_cum_marks = _marks("usage_cum_marks", "month", "last_day")
usage_cumh_marks = _marks("usage_cumh_marks", "day", "last_hour")
MONTH_TO_DATE = Cumulative(
    "day",
    "month",
    {cut: _cumulative("usage_cum_", "day", cut, kept) for cut, kept in ROLLUP_CUTS.items()},
    usage_cum_marks,
)
DAY_TO_HOUR = Cumulative(
    "hour",
    "day",
    {cut: _cumulative("usage_cumh_", "hour", cut, kept) for cut, kept in ROLLUP_CUTS.items()},
    usage_cumh_marks,
)
