"""Alerts posted to chat webhooks (LEDGER_ALERT_WEBHOOKS), with the durability of mail.

Each configured channel is registered the first time a check sees it; every alert raised from then on gets
one `alert_posts` row per channel, inserted once (the primary key decides between racing checks). A row is
leased (`sending`) by an UPDATE only one check can win, posted, then marked `sent`; a post that fails leaves
it `failed` for the next check, and a sent one is never picked again. As with mail, only a process dying
between the receiver's 2xx and the `sent` update can repeat a post, after the lease expires.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import exists, select, update

from shared.alerts.delivery import DeliveryReport, alert_row, claimable, insert_once, lease
from shared.app.settings import Settings
from shared.store.schema_alerts import alert_channels, alert_posts, alerts
from shared.store.times import iso_utc, naive_utc

logger = logging.getLogger(__name__)


class WebhookPoster(Protocol):
    def post(self, url: str, payload: dict[str, Any]) -> None:
        """POST the JSON payload; raise unless the receiver accepted it."""


def channel_name(kind: str, url: str) -> str:
    """How a channel is stored and shown: its kind and a digest of its URL (the URL is a secret)."""
    return f"{kind}:{hashlib.blake2b(url.encode(), digest_size=8).hexdigest()}"


def poster_for(settings: Settings) -> WebhookPoster | None:
    if not settings.alert_webhooks:
        return None
    from shared.adapters.webhook_http import HttpPoster  # only where chat alerts are configured

    return HttpPoster()


def deliver_webhooks(
    store: Any, poster: WebhookPoster | None, settings: Settings, now: datetime | None = None
) -> DeliveryReport:
    """Post every alert each configured channel has not had yet; `sent`/`failed` list `alert_id` per post."""
    report = DeliveryReport()
    channels = {channel_name(kind, url): (kind, url) for kind, url in settings.alert_webhooks}
    if poster is None or not channels:
        return report
    now = now or datetime.now(UTC)
    _queue_posts(store, list(channels), now)
    with store.read() as conn:
        due = conn.execute(
            select(alert_posts.c.alert_id, alert_posts.c.channel)
            .where(alert_posts.c.channel.in_(list(channels)), claimable(alert_posts, now))
            .order_by(alert_posts.c.alert_id)
            .limit(200)
        ).all()
    for alert_id, channel in due:
        key = (alert_posts.c.alert_id == alert_id) & (alert_posts.c.channel == channel)
        with store.write() as conn:
            row = alert_row(conn, alert_id) if lease(conn, alert_posts, key, now) else None
        if row is None:
            continue  # another check holds it
        kind, url = channels[channel]
        from shared.alerts.chat import chat_payload

        try:
            poster.post(url, chat_payload(kind, row))
        except Exception as exc:  # noqa: BLE001 - any receiver failure: keep the row for the next check
            logger.warning("alert %s: post to %s failed: %s", alert_id, channel, exc)
            _finish(store, key, status="failed", last_error=f"{type(exc).__name__}: {exc}"[:1024])
            report.failed.append(alert_id)
            continue
        _finish(store, key, status="sent", sent_at=naive_utc(datetime.now(UTC)), last_error=None)
        logger.info("alert %s posted to %s", alert_id, channel)
        report.sent.append(alert_id)
    return report


def _queue_posts(store: Any, channels: list[str], now: datetime) -> None:
    """Register new channels, then give each the alerts raised since it was registered."""
    with store.write() as conn:
        for channel in channels:
            if not insert_once(conn, alert_channels.insert().values(channel=channel, added_at=naive_utc(now))):
                # Two checks racing to register a channel: keep the earlier moment, or the alert the earlier
                # check raised just before (created at its `now`) would look older than the channel and never go.
                conn.execute(
                    update(alert_channels)
                    .where(alert_channels.c.channel == channel, alert_channels.c.added_at > naive_utc(now))
                    .values(added_at=naive_utc(now))
                )
        since = dict(
            conn.execute(
                select(alert_channels.c.channel, alert_channels.c.added_at).where(
                    alert_channels.c.channel.in_(channels)
                )
            ).all()
        )
        for channel, added_at in since.items():
            posted = exists().where(alert_posts.c.alert_id == alerts.c.id, alert_posts.c.channel == channel)
            for alert_id in conn.execute(select(alerts.c.id).where(alerts.c.created_at >= added_at, ~posted)).scalars():
                insert_once(
                    conn, alert_posts.insert().values(alert_id=alert_id, channel=channel, status="pending", attempts=0)
                )


def _finish(store: Any, key: Any, **values: Any) -> None:
    with store.write() as conn:
        conn.execute(update(alert_posts).where(key, alert_posts.c.status == "sending").values(**values))


def channel_deliveries(conn: Any, alert_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each alert's chat posts, as the API lists them beside the mail's delivery."""
    found: dict[int, list[dict[str, Any]]] = {alert_id: [] for alert_id in alert_ids}
    if not alert_ids:
        return found
    rows = conn.execute(
        select(alert_posts)
        .where(alert_posts.c.alert_id.in_(alert_ids))
        .order_by(alert_posts.c.alert_id, alert_posts.c.channel)
    ).mappings()
    for row in rows:
        found[row["alert_id"]].append(
            {
                "channel": row["channel"],
                "status": row["status"],
                "attempts": row["attempts"],
                "sentAt": iso_utc(row["sent_at"]),
                "lastError": row["last_error"],
            }
        )
    return found
