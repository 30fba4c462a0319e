"""The demo path a new user takes: `python -m devhost demo` prints both reports and serves the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_both_reports_then_serves_the_usage_api(tmp_path):
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
        assert "Report 1: tokens by caller IP and model" in text, text
        assert "Report 2: prompt text of recent calls" in text
        assert "replayed again (idempotent): events: " in text and "recorded: 0," in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/usage?groupBy=ip,model", timeout=10) as response:
            usage = json.loads(response.read())
        assert usage["totals"]["requests"] > 10_000
        assert {"ip", "model", "totalTokens", "costUsd"} <= set(usage["rows"][0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "healthy"
    finally:
        process.terminate()
        process.wait(timeout=15)
