"""Alert mail as .eml files in a folder (`LEDGER_EMAIL_MODE=outbox`): local development and the demo."""

from __future__ import annotations

import os
import re
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path


class OutboxSender:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> Path:
        """Write the message atomically (temp file, then rename), named after its Message-ID."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "", str(message.get("Message-ID", "message")).split("@")[0]) or "message"
        target = self.folder / f"{name}.eml"
        temporary = target.with_suffix(".eml.tmp")
        temporary.write_bytes(message.as_bytes(policy=SMTP))
        os.replace(temporary, target)
        return target
