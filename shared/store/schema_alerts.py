"""Tables of quotas and alerts, added to the ledger's metadata.

`quota_crossings` is the durable memory of which threshold was alerted in which period: its primary key is
claimed by INSERT, so two checks running at once (scale-out, a retry) cannot both alert the same crossing.
`alerts` is an outbox: a row is written first, then delivered, then marked sent, so a failed send is retried
and an accepted one is never repeated.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Unicode,
    UnicodeText,
)

from shared.store.schema import NAME, UTC_TIME, metadata

quotas = Table(
    "quotas",
    metadata,
    Column("scope_type", String(16), nullable=False),
    Column("scope_id", NAME, nullable=False),
    Column("period", String(8), nullable=False),
    Column("limit_tokens", BigInteger),
    Column("limit_cost_usd", Float),
    Column("thresholds", String(256), nullable=False),  # JSON list of percentages
    Column("notify", Unicode(2048), nullable=False),  # JSON list of addresses
    Column("managed_by", String(8), nullable=False),  # api | file (LEDGER_QUOTAS_FILE owns its entries)
    Column("updated_at", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("scope_type", "scope_id", name="pk_quotas"),
)

quota_crossings = Table(
    "quota_crossings",
    metadata,
    Column("scope_type", String(16), nullable=False),
    Column("scope_id", NAME, nullable=False),
    Column("period_start", UTC_TIME, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("alert_id", Integer),
    Column("claimed_at", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("scope_type", "scope_id", "period_start", "threshold", name="pk_quota_crossings"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(256), nullable=False, unique=True),  # one alert per anomaly / crossing, ever
    Column("kind", String(32), nullable=False),
    Column("scope_type", String(16), nullable=False),
    Column("scope_id", NAME, nullable=False),
    Column("occurred_at", UTC_TIME, nullable=False),  # the hour or period the alert is about
    Column("created_at", UTC_TIME, nullable=False),
    Column("subject", Unicode(512), nullable=False),
    Column("details", UnicodeText, nullable=False),  # JSON: summary, facts, series, links
    Column("recipients", Unicode(2048), nullable=False),  # JSON {"to": [...], "cc": [...]}
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed | off | no_recipients
    Column("attempts", Integer, nullable=False),
    Column("last_error", Unicode(1024)),
    Column("claimed_at", UTC_TIME),
    Column("sent_at", UTC_TIME),
    Index("ix_alerts_status", "status"),
    Index("ix_alerts_scope", "kind", "scope_type", "scope_id", "occurred_at"),
)

# Chat webhooks (LEDGER_ALERT_WEBHOOKS) are outboxes beside the mail one: a channel is registered the first
# time a check sees it, every alert raised from then on gets one post row per channel (the primary key
# decides between racing checks), and a post row is leased, posted, then marked sent, as mail is.
# A channel is named by its kind and a digest of its URL: the URL itself is a secret and never stored.
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("channel", String(64), nullable=False),  # e.g. teams:3f2a9c1d0b7e4a55
    Column("added_at", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("channel", name="pk_alert_channels"),
)

alert_posts = Table(
    "alert_posts",
    metadata,
    Column("alert_id", Integer, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Unicode(1024)),
    Column("claimed_at", UTC_TIME),
    Column("sent_at", UTC_TIME),
    PrimaryKeyConstraint("alert_id", "channel", name="pk_alert_posts"),
    Index("ix_alert_posts_status", "status"),
)
