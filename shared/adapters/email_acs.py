"""Alert mail through Azure Communication Services Email, authenticated with the app's managed identity."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK loads on the first mail, not at start-up
    from azure.communication.email import EmailClient


class AcsSender:
    def __init__(self, endpoint: str, sender: str, *, client_id: str | None = None) -> None:
        self.endpoint, self.sender, self.client_id = endpoint, sender, client_id
        self._client: EmailClient | None = None

    def _email_client(self) -> EmailClient:
        if self._client is None:
            from azure.communication.email import EmailClient
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=self.client_id)
            self._client = EmailClient(self.endpoint, credential)
        return self._client

    def send(self, message: EmailMessage) -> None:
        """ACS takes JSON, not MIME: copy the subject, both parts, the attachments and the recipients across, then
        wait. Attachment fields as the SDK's own `begin_send` template has them (name, contentType, contentInBase64;
        https://learn.microsoft.com/azure/communication-services/quickstarts/email/send-email-advanced/send-email-with-attachments)."""
        result = self._email_client().begin_send(acs_payload(message, self.sender)).result()
        if str(result.get("status", "")).lower() != "succeeded":
            raise RuntimeError(f"ACS email status {result.get('status')}: {result.get('error')}")


def acs_payload(message: EmailMessage, sender: str) -> dict[str, Any]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    payload: dict[str, Any] = {
        "senderAddress": sender,
        "content": {
            "subject": str(message["Subject"]),
            "plainText": text.get_content() if text else "",
            "html": html.get_content() if html else "",
        },
        "recipients": {"to": _addresses(message["To"]), "cc": _addresses(message["Cc"])},
    }
    attachments = [
        {
            "name": part.get_filename() or "attachment",
            "contentType": part.get_content_type(),
            "contentInBase64": base64.b64encode(_bytes_of(part)).decode("ascii"),
        }
        for part in message.iter_attachments()
    ]
    if attachments:
        payload["attachments"] = attachments
    return payload


def _bytes_of(part: Any) -> bytes:
    """The attachment as sent: its transfer encoding undone, not decoded to text (a CSV part is text/csv)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _addresses(header) -> list[dict[str, str]]:
    if not header:
        return []
    return [{"address": part.strip()} for part in str(header).split(",") if part.strip()]
