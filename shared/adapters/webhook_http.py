"""Chat alerts over HTTPS: one JSON POST to a webhook URL (a Teams workflow, a Slack incoming webhook, any
receiver of JSON). urllib is enough for one small request; no SDK."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class WebhookError(Exception):
    """The receiver did not accept the post. The message never holds the URL: it is the credential."""


class HttpPoster:
    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout

    def post(self, url: str, payload: dict[str, Any]) -> None:
        """POST `payload` as JSON; return only when the receiver answered 2xx."""
        request = urllib.request.Request(  # noqa: S310 - the URL is an https channel from the settings
            url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "aoai-ledger"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - https (settings)
                response.read()
        except urllib.error.HTTPError as exc:
            raise WebhookError(f"HTTP {exc.code} {exc.reason}: {exc.read()[:200].decode('utf-8', 'replace')}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WebhookError(f"not reached ({type(reason).__name__}: {reason})") from None
