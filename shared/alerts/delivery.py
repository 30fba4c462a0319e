"""Alerts: durable records with a dedupe key, delivered by email through an outbox.

An alert is inserted once per dedupe key (the unique constraint decides between racing instances), then
delivered: the row is leased (`sending`), the message handed to the sender, and the row marked `sent`. A send
that raises leaves the row `failed` and the next check retries it; a sent row is never picked again. Only a
process dying between the relay's acceptance and the `sent` update can repeat a mail, after the lease
expires; the Message-ID is derived from the alert so mail clients fold such a repeat.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared.app.settings import Settings
from shared.store.schema_alerts import alerts
from shared.store.times import aware_utc, iso_utc, naive_utc

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a `sending` row older than this belongs to a process that died
MAX_ATTEMPTS = 288  # a day of 5-minute checks; after that the row stays `failed`, visible in /api/alerts
RETRYABLE = ("pending", "failed")


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> object:
        """Hand the message to the relay; raise unless it was accepted. What it returns is not used (the outbox
        returns the file's path)."""


@dataclass(frozen=True)
class NewAlert:
    dedupe_key: str
    kind: str  # quota | spike | new_ip | new_app | error_burst | filter_burst | reconcile
    scope_type: str
    scope_id: str
    occurred_at: datetime
    subject: str
    details: dict[str, Any]  # summary, facts, series, links (see shared.alerts.notify)
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def insert_once(conn: Connection, statement: Any) -> bool:
    """Run an INSERT inside a savepoint; False when a unique key says another writer got there first."""
    try:
        with conn.begin_nested():
            conn.execute(statement)
        return True
    except IntegrityError:
        return False


def create_alert(conn: Connection, alert: NewAlert, email_mode: str, now: datetime) -> int | None:
    """Insert the alert unless its dedupe key exists; its id, or None when it was already raised."""
    cc = tuple(a for a in dict.fromkeys(alert.cc) if a not in alert.to)
    if email_mode == "off":
        status = "off"
    elif not (alert.to or cc):
        status = "no_recipients"
    else:
        status = "pending"
    inserted = insert_once(
        conn,
        alerts.insert().values(
            dedupe_key=alert.dedupe_key,
            kind=alert.kind,
            scope_type=alert.scope_type,
            scope_id=alert.scope_id,
            occurred_at=naive_utc(alert.occurred_at),
            created_at=naive_utc(now),
            subject=alert.subject[:512],
            details=json.dumps(alert.details),
            recipients=json.dumps({"to": list(alert.to), "cc": list(cc)}),
            status=status,
            attempts=0,
        ),
    )
    if not inserted:
        return None
    alert_id = conn.execute(select(alerts.c.id).where(alerts.c.dedupe_key == alert.dedupe_key)).scalar_one()
    logger.info("alert %s raised: %s (%s)", alert_id, alert.dedupe_key, status)
    return alert_id


def raised_between(conn: Connection, kind: str, scope_type: str, scope_id: str, start: datetime, end: datetime) -> bool:
    """Whether an alert of this kind and scope is about a moment in [start, end) (episode suppression)."""
    found = conn.execute(
        select(alerts.c.id)
        .where(
            alerts.c.kind == kind,
            alerts.c.scope_type == scope_type,
            alerts.c.scope_id == scope_id,
            alerts.c.occurred_at >= naive_utc(start),
            alerts.c.occurred_at < naive_utc(end),
        )
        .limit(1)
    ).first()
    return found is not None


def alert_row(conn: Connection, alert_id: int) -> dict[str, Any]:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
    return _decoded(row)


def _decoded(row: Any) -> dict[str, Any]:
    values = dict(row)
    values["details"] = json.loads(values["details"])
    values["recipients"] = json.loads(values["recipients"])
    for name in ("occurred_at", "created_at", "claimed_at", "sent_at"):
        if values[name] is not None:
            values[name] = aware_utc(values[name])
    return values


def list_alerts(
    conn: Connection, limit: int, before_id: int | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Newest first (ids only grow), `limit` rows below `before_id`."""
    statement = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(alerts.c.id < before_id)
    if kind is not None:
        statement = statement.where(alerts.c.kind == kind)
    rows = [_decoded(row) for row in conn.execute(statement).mappings()]
    from shared.alerts.webhooks import channel_deliveries

    posts = channel_deliveries(conn, [row["id"] for row in rows])
    return [row | {"posts": posts[row["id"]]} for row in rows]


def alert_json(row: dict[str, Any]) -> dict[str, Any]:
    details = row["details"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "scopeType": row["scope_type"],
        "scopeId": row["scope_id"],
        "occurredAt": iso_utc(row["occurred_at"]),
        "createdAt": iso_utc(row["created_at"]),
        "subject": row["subject"],
        "summary": details.get("summary"),
        "facts": dict(details.get("facts", [])),
        "links": dict(details.get("links", [])),
        "data": details.get("data", {}),
        "recipients": row["recipients"],
        "delivery": {
            "status": row["status"],
            "attempts": row["attempts"],
            "sentAt": iso_utc(row["sent_at"]),
            "lastError": row["last_error"],
            "channels": row.get("posts", []),
        },
    }


def sender_for(settings: Settings) -> EmailSender | None:
    """The email adapter `LEDGER_EMAIL_MODE` asks for, imported only when used."""
    if settings.email_mode == "smtp":
        from shared.adapters.email_smtp import SmtpSender

        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    if settings.email_mode == "outbox":
        from shared.adapters.email_outbox import OutboxSender

        return OutboxSender(settings.outbox_dir)
    if settings.email_mode == "acs":
        from shared.adapters.email_acs import AcsSender

        return AcsSender(settings.acs_endpoint, settings.alert_from, client_id=settings.azure_client_id or None)
    return None


def claimable(table: Any, now: datetime):
    """Rows of an outbox (`alerts`, `alert_posts`) a check may lease: waiting, failed, or leased by the dead."""
    stale = naive_utc(now - LEASE)
    return and_(
        table.c.attempts < MAX_ATTEMPTS,
        or_(table.c.status.in_(RETRYABLE), and_(table.c.status == "sending", table.c.claimed_at < stale)),
    )


def lease(conn: Connection, table: Any, row: Any, now: datetime) -> bool:
    """Take one claimable outbox row (`row`: the condition picking it) for this check: True if this check won it."""
    taken = conn.execute(
        update(table)
        .where(row, claimable(table, now))
        .values(status="sending", claimed_at=naive_utc(now), attempts=table.c.attempts + 1)
    )
    return taken.rowcount == 1


def deliver_pending(
    store: Any, sender: EmailSender | None, settings: Settings, now: datetime | None = None
) -> DeliveryReport:
    """Send every alert waiting for delivery, each leased first so two instances never send the same one;
    then post alerts to the chat webhooks (their `sent`/`failed` are logged, the report stays the mail's)."""
    from shared.alerts.webhooks import deliver_webhooks, poster_for

    now = now or datetime.now(UTC)
    report = _deliver_mail(store, sender, settings, now)
    posts = deliver_webhooks(store, poster_for(settings), settings, now)
    if posts.sent or posts.failed:
        logger.info("chat posts: sent for alerts %s, failed for %s", posts.sent, posts.failed)
    return report


def _deliver_mail(store: Any, sender: EmailSender | None, settings: Settings, now: datetime) -> DeliveryReport:
    from shared.alerts.notify import compose  # rendering is only needed when something is sent

    report = DeliveryReport()
    if sender is None:
        return report
    with store.read() as conn:
        ids = list(
            conn.execute(select(alerts.c.id).where(claimable(alerts, now)).order_by(alerts.c.id).limit(200)).scalars()
        )
    for alert_id in ids:
        with store.write() as conn:
            row = alert_row(conn, alert_id) if lease(conn, alerts, alerts.c.id == alert_id, now) else None
        if row is None:
            continue  # another instance holds it
        try:
            sender.send(compose(row, settings))
        except Exception as exc:  # noqa: BLE001 - any relay failure: keep the row for the next check
            logger.warning("alert %s: send attempt %d failed: %s", alert_id, row["attempts"], exc)
            _finish(store, alert_id, status="failed", last_error=f"{type(exc).__name__}: {exc}"[:1024])
            report.failed.append(alert_id)
            continue
        _finish(store, alert_id, status="sent", sent_at=naive_utc(datetime.now(UTC)), last_error=None)
        logger.info("alert %s sent to %s", alert_id, row["recipients"])
        report.sent.append(alert_id)
    return report


def _finish(store: Any, alert_id: int, **values: Any) -> None:
    with store.write() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.status == "sending").values(**values))
