"""The demo path a new user takes: `python -m devhost demo` prints both reports and serves the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the demo's own local host
        return json.loads(response.read())


def test_demo_prints_its_reports_with_names_on_one_screen_then_serves_the_usage_api(tmp_path):
    old_mail = tmp_path / ".ledger" / "outbox" / "alert-from-an-earlier-run.eml"
    old_mail.parent.mkdir(parents=True)
    old_mail.write_bytes(b"Subject: an earlier run\r\n\r\nnot this demo's\r\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "aoai-ledger local host on" in line:
                break
        text = "".join(output)
        demo = text.split("Ctrl+C stops it.")[0].splitlines()  # what the demo prints, before the host's route list
        assert [line for line in demo if len(line) > 120] == [], text
        assert "Report 1: tokens by caller IP and model" in text, text
        assert "Report 2: prompt text of the 10 most recent" in text
        assert "Report 3: cost by user and subscription" in text
        assert "replayed again (idempotent): events: " in text and "recorded: 0," in text
        rules = [i for i, line in enumerate(demo) if line.startswith("-----")]
        assert len(rules) == 6 and all(rules[i + 1] - rules[i] == 11 for i in (0, 2, 4)), text  # 10 rows, a rule
        assert [line.split()[0] for line in demo if line.startswith("total")] == ["total"] * 3
        people = demo[rules[4] + 1 : rules[5]]  # report 3: people and subscriptions by name, not GUIDs
        assert any(line.startswith("kofi@contoso.com (") and "data-science (" in line for line in people), text
        assert all(re.match(r"[a-z]+@contoso\.com \([0-9a-f]{8}…\) ", line) for line in people), text
        quota_line = next(line for line in demo if "a monthly quota for subscription" in line)
        assert re.search(r"subscription [a-z-]+ \([0-9a-f]{8}…\) at 90 %", quota_line), text
        assert any("Token spike: user kofi@contoso.com (" in line for line in demo), text  # the mails name them too
        page = f"http://127.0.0.1:{port}/api/dashboard?period=30d"
        dashboard = [i for i, line in enumerate(demo) if line.endswith(page)]
        docs = [i for i, line in enumerate(demo) if line.endswith(f"http://127.0.0.1:{port}/api/docs")]
        curls = [i for i, line in enumerate(demo) if "curl " in line]
        assert dashboard and docs and curls and dashboard[0] < docs[0] < curls[0], text  # dashboard, docs, curls
        assert len(curls) >= 5 and all(
            demo[i].strip().startswith("curl -s '") and demo[i].count("curl ") == 1 and demo[i].endswith("'")
            for i in curls
        ), text
        listed = {line.split()[0] for line in demo if line.startswith("   alert")}
        outbox = {path.name for path in old_mail.parent.glob("*.eml")} - {old_mail.name}
        assert listed == outbox and outbox, text  # what this run sent, not what was there before
        alerts = _get(f"http://127.0.0.1:{port}/api/alerts")["items"]
        quota = [a for a in alerts if a["kind"] == "quota"]
        assert quota and quota[0]["delivery"]["status"] == "sent", alerts  # on any day of the month
        usage = _get(f"http://127.0.0.1:{port}/api/usage?groupBy=ip,model")
        assert usage["totals"]["requests"] > 10_000
        assert {"ip", "model", "totalTokens", "costUsd"} <= set(usage["rows"][0])
        assert _get(f"http://127.0.0.1:{port}/api/health")["status"] == "healthy"
        kofi = _get(f"http://127.0.0.1:{port}/api/usage?groupBy=user&user=kofi@contoso.com")["rows"]  # the curl shown
        assert [row["userName"] for row in kofi] == ["kofi@contoso.com"]
        with urllib.request.urlopen(page, timeout=30) as answer:  # the page the demo points at shows the sample
            assert "kofi@contoso.com" in answer.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=15)
