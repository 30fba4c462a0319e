"""The issue's "done when": a quota at 90 %, `quota_check` run twice through the local host's admin endpoint,
exactly one mail over SMTP to the quota's recipients, and `/api/alerts` listing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from tests.builders import capture_event, chat_response, encode
from tests.net import free_port, http_call
from tests.smtp_server import smtp_server

ROOT = Path(__file__).resolve().parents[2]
call = partial(http_call, timeout=30)  # the first request imports the app


def test_quota_check_twice_on_the_local_host_mails_the_recipients_once(tmp_path):
    with smtp_server() as (smtp_port, sink):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(
            {
                "LEDGER_SQL_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
                "LEDGER_AUTH": "dev",
                "LEDGER_EMAIL_MODE": "smtp",
                "LEDGER_SMTP_HOST": "127.0.0.1",
                "LEDGER_SMTP_PORT": str(smtp_port),
                "LEDGER_SMTP_STARTTLS": "false",
                "LEDGER_ALERT_TO": "admins@contoso.com",
                "LEDGER_ALERT_FROM": "ledger@contoso.com",
                "PYTHONPATH": str(ROOT),
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "serve", "--port", str(port), "--no-timers"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if call(f"{base}/api/health")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            moment = datetime.now(UTC) - timedelta(seconds=30)
            for i in range(3):  # 3 x 3,000 tokens = 9,000
                event = capture_event(
                    time=(moment + timedelta(seconds=i)).isoformat(),
                    response=chat_response(prompt=2_900, completion=100),
                )
                assert (
                    call(
                        f"{base}/admin/functions/ingest", json.dumps({"input": encode(event).decode()}).encode(), "POST"
                    )[0]
                    == 202
                )
            quota = {"period": "month", "limitTokens": 10_000, "notify": ["owner@contoso.com", "finance@contoso.com"]}
            status, body = call(f"{base}/api/quotas/subscription/sub-marketing", json.dumps(quota).encode(), "PUT")
            assert status == 201 and json.loads(body)["status"]["percent"] == 90.0
            for _ in range(2):
                assert call(f"{base}/admin/functions/quota_check", b"{}", "POST")[0] == 202
            status, body = call(f"{base}/api/alerts")
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert sorted(mail.recipients) == ["admins@contoso.com", "finance@contoso.com", "owner@contoso.com"]
    assert mail.sender == "ledger@contoso.com" and "80%" in mail.message["Subject"]
    items = json.loads(body)["items"]
    assert status == 200 and len(items) == 1
    assert items[0]["kind"] == "quota" and items[0]["delivery"]["status"] == "sent"
    assert items[0]["recipients"]["to"] == ["owner@contoso.com", "finance@contoso.com"]
