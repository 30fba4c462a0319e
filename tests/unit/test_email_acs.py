"""Alert mail as Azure Communication Services gets it: the JSON `begin_send` takes, attachments included, with
field names checked against the SDK's own request template (no ACS server runs here)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from azure.communication.email import EmailClient

from shared.adapters.email_acs import acs_payload
from shared.alerts.notify import compose
from shared.app.settings import load_settings

CSV = 'subscription,user,totalTokens\r\nsub-a,oid-ana,73\r\nsub-b,"\'=HYPERLINK(""x"")",5\r\n'


def _row() -> dict:
    return {
        "id": 7,
        "kind": "chargeback",
        "dedupe_key": "chargeback:2026-11",
        "subject": "aoai-ledger chargeback 2026-11",
        "created_at": datetime(2026, 12, 1, 6, tzinfo=UTC),
        "recipients": {"to": ["finops@contoso.com"], "cc": []},
        "details": {
            "summary": "November",
            "facts": [["Tokens", "78"]],
            "attachments": [{"filename": "chargeback-2026-11.csv", "contentType": "text/csv", "text": CSV}],
        },
    }


def test_an_attached_csv_reaches_acs_byte_for_byte_in_the_sdks_field_names():
    payload = acs_payload(compose(_row(), load_settings({})), "ledger@contoso.com")
    [attachment] = payload["attachments"]
    assert attachment["name"] == "chargeback-2026-11.csv" and attachment["contentType"] == "text/csv"
    assert base64.b64decode(attachment["contentInBase64"]) == CSV.encode()
    template = EmailClient.begin_send.__doc__ or ""
    assert all(f'"{field}": "str"' in template for field in attachment), template[:200]
    assert payload["content"]["plainText"].startswith("aoai-ledger chargeback 2026-11")
    assert payload["recipients"]["to"] == [{"address": "finops@contoso.com"}]


def test_a_mail_without_attachments_sends_none():
    row = _row()
    row["details"].pop("attachments")
    assert "attachments" not in acs_payload(compose(row, load_settings({})), "ledger@contoso.com")
