"""An alert as a chat message: an Adaptive Card for Teams workflows, Block Kit for Slack, the API's alert
item for `json`. Same subject, summary, facts and links as the mail (shared.alerts.notify).

Teams: the "post to a channel when a webhook request is received" workflow takes a message whose
attachments hold the card (https://learn.microsoft.com/connectors/teams/#microsoft-teams-webhook);
Adaptive Card 1.4 is what Teams renders (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card).
Slack: `text` is the notification fallback, `blocks` the message (https://api.slack.com/reference/block-kit/blocks);
a header holds at most 150 characters, a section at most 10 fields, an actions block at most 25 elements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def teams_card(subject: str, details: dict[str, Any]) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": subject, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": details.get("summary", ""), "wrap": True},
    ]
    facts = details.get("facts", [])
    if facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": str(label), "value": str(value)} for label, value in facts]}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in details.get("links", [])],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def _mrkdwn(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(subject: str, details: dict[str, Any]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(details.get("summary", "")) or " "}},
    ]
    facts = details.get("facts", [])
    for start in range(0, len(facts), 10):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}"}
                    for label, value in facts[start : start + 10]
                ],
            }
        )
    links = details.get("links", [])[:25]
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": label[:75]}, "url": url}
                    for label, url in links
                ],
            }
        )
    return {"text": subject, "blocks": blocks}


def chat_payload(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """The body posted to a `kind` channel for a stored alert row."""
    from shared.alerts.delivery import alert_json

    builders: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {"teams": teams_card, "slack": slack_blocks}
    if kind in builders:
        return builders[kind](row["subject"], row["details"])
    return alert_json(row)
