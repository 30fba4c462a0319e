"""Alert emails: a plain-text part and an HTML part rendered from a stored alert.

The HTML chart is a table of bars with inline styles: mail clients block external images and many strip SVG,
but every one of them draws a table cell with a background colour. Links point at the usage API
(`LEDGER_PUBLIC_URL`), so the reader lands on the calls behind the alert.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any

from shared.app.settings import Settings

BAR_WIDTH = 240  # pixels of the longest bar
BAR_COLOUR = "#2f6fde"
ALERT_COLOUR = "#d64545"


def message_id(row: dict[str, Any]) -> str:
    """Stable per alert, so a repeat after a crash is recognisably the same mail."""
    digest = hashlib.blake2b(row["dedupe_key"].encode(), digest_size=8).hexdigest()
    return f"<alert-{row['id']}.{digest}@aoai-ledger>"


def compose(row: dict[str, Any], settings: Settings) -> EmailMessage:
    details = row["details"]
    message = EmailMessage()
    message["Subject"] = row["subject"]
    message["From"] = settings.alert_from
    recipients = row["recipients"]
    if recipients.get("to"):
        message["To"] = ", ".join(recipients["to"])
    if recipients.get("cc"):
        message["Cc"] = ", ".join(recipients["cc"])
    message["Date"] = format_datetime(row["created_at"].astimezone(UTC))
    message["Message-ID"] = message_id(row)
    message["X-Ledger-Alert"] = f"{row['kind']}; id={row['id']}"
    message.set_content(render_text(row["subject"], details))
    message.add_alternative(render_html(row["subject"], details), subtype="html")
    for attachment in details.get("attachments", []):  # stored with the alert, so a retry sends the same file
        maintype, subtype = attachment["contentType"].split("/", 1)
        message.add_attachment(
            attachment["text"].encode(), maintype=maintype, subtype=subtype, filename=attachment["filename"]
        )
    return message


def render_text(subject: str, details: dict[str, Any]) -> str:
    lines = [subject, "", details.get("summary", ""), ""]
    facts = details.get("facts", [])
    width = max((len(label) for label, _ in facts), default=0)
    lines += [f"  {label.ljust(width)}  {value}" for label, value in facts]
    series = details.get("series")
    if series and series.get("points"):
        lines += ["", series.get("title", "")]
        peak = max((value for _, value in series["points"]), default=0) or 1
        width = max(len(str(label)) for label, _ in series["points"])  # names beside ids make labels of any length
        for label, value in series["points"]:
            lines.append(f"  {label!s:>{width}}  {'#' * round(30 * value / peak):<30}  {_number(value)}")
    links = details.get("links", [])
    if links:
        lines += ["", "Look closer:"] + [f"  {label}: {url}" for label, url in links]
    lines += ["", "-- aoai-ledger"]
    return "\n".join(lines) + "\n"


def render_html(subject: str, details: dict[str, Any]) -> str:
    parts = [
        '<!DOCTYPE html><html><body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px;color:#222">',
        f'<h2 style="font-size:18px;margin:0 0 8px">{escape(subject)}</h2>',
        f"<p>{escape(details.get('summary', ''))}</p>",
    ]
    facts = details.get("facts", [])
    if facts:
        parts.append('<table cellpadding="4" cellspacing="0" style="border-collapse:collapse">')
        parts += [
            f'<tr><td style="color:#666">{escape(label)}</td><td><b>{escape(str(value))}</b></td></tr>'
            for label, value in facts
        ]
        parts.append("</table>")
    series = details.get("series")
    if series and series.get("points"):
        parts.append(chart_html(series))
    links = details.get("links", [])
    if links:
        parts.append("<p>Look closer:</p><ul>")
        parts += [f'<li><a href="{escape(url, quote=True)}">{escape(label)}</a></li>' for label, url in links]
        parts.append("</ul>")
    parts.append('<p style="color:#888;font-size:12px">aoai-ledger</p></body></html>')
    return "\n".join(parts)


def chart_html(series: dict[str, Any]) -> str:
    """A bar per point as a sized table cell; a `mark` point (the anomalous hour) is drawn in red."""
    points = series["points"]
    peak = max((value for _, value in points), default=0) or 1
    mark = series.get("mark")
    rows = [
        f'<p style="margin:12px 0 4px"><b>{escape(series.get("title", ""))}</b></p>',
        '<table cellpadding="0" cellspacing="2" style="border-collapse:separate;font-size:12px">',
    ]
    for label, value in points:
        width = max(1, round(BAR_WIDTH * value / peak)) if value else 0
        colour = ALERT_COLOUR if label == mark else BAR_COLOUR
        bar = (
            f'<table cellpadding="0" cellspacing="0"><tr><td width="{width}" height="12" '
            f'style="background:{colour};width:{width}px;height:12px;font-size:1px">&nbsp;</td></tr></table>'
            if width
            else ""
        )
        rows.append(
            f'<tr><td style="color:#666;padding-right:6px;white-space:nowrap">{escape(str(label))}</td>'
            f'<td width="{BAR_WIDTH}">{bar}</td>'
            f'<td style="padding-left:6px;text-align:right">{escape(_number(value))}</td></tr>'
        )
    rows.append("</table>")
    return "\n".join(rows)


def money(value: float, against: float | None = None) -> str:
    """US dollars to 4 significant digits, never fewer than cents: $0.05497, $12.35, $1,234.50. Given `against`
    (the limit it is read beside), more digits until the two differ whenever the amounts do, so 110 % of a
    $0.05 limit reads "$0.055 of $0.05", never "$0.05 of $0.05"."""
    digits = max(2, 3 - math.floor(math.log10(abs(value)))) if value else 2
    while (
        against is not None
        and value != against
        and digits < 10
        and _dollars(value, digits) == _dollars(against, digits)
    ):
        digits += 1
    return _dollars(value, min(digits, 10))


def _dollars(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"${whole}.{fraction}"


def percent(value: float) -> str:
    """A share as people read it: "110%", "87.5%", "1,234.56%", at most two decimals."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"
