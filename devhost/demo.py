"""`make demo`: a sample month through the real ingest function, the seed's two reports, then the API."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

SAMPLE_FILE = Path(".ledger/sample-month.jsonl")


def _write_sample(start: datetime) -> int:
    from .sample import generate_sample_events

    SAMPLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(SAMPLE_FILE, "wb") as handle:
        for body in generate_sample_events(start, days=30):
            handle.write(body + b"\n")
            count += 1
    return count


def run_demo(*, port: int = 7071, serve_api: bool = True) -> int:
    os.environ["LEDGER_AUTH"] = "dev"  # the demo serves on loopback only, where dev mode is allowed
    from shared.reports import recent_prompts, render_table, tokens_by_ip_and_model
    from shared.wiring import app_context

    from .functions import load_functions
    from .replay import replay

    end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=30)
    print(f"1. writing a sample month of APIM capture events ({start:%Y-%m-%d} .. {end:%Y-%m-%d}) to {SAMPLE_FILE}")
    print(f"   {_write_sample(start):,} events")
    functions = load_functions()
    print(f"2. replaying them through the `ingest` function into {app_context().settings.sql_url}")
    first = replay(functions["ingest"], [SAMPLE_FILE])
    print("   " + ", ".join(f"{k}: {v:,}" for k, v in first.as_json().items()))
    again = replay(functions["ingest"], [SAMPLE_FILE])
    print("   replayed again (idempotent): " + ", ".join(f"{k}: {v:,}" for k, v in again.as_json().items()))
    with app_context().store.read() as conn:
        by_ip = tokens_by_ip_and_model(conn, start, end + timedelta(days=1))
        prompts = recent_prompts(conn, limit=10)
    print("\n3. Report 1: tokens by caller IP and model (last 30 days)\n")
    columns = ["ip", "model", "requests", "promptTokens", "completionTokens", "totalTokens", "costUsd"]
    print(render_table(by_ip, columns))
    print("\n4. Report 2: prompt text of recent calls (first 100 characters)\n")
    print(render_table(prompts, ["time", "ip", "model", "totalTokens", "prompt"]))
    if not serve_api:
        return 0
    base = f"http://127.0.0.1:{port}/api"
    print(f"\n5. the usage API (LEDGER_AUTH=dev) on {base} — try:\n")
    print(f"   curl -s '{base}/health'")
    print(f"   curl -s '{base}/usage?groupBy=subscription,model'")
    print(f"   curl -s '{base}/usage?groupBy=user&format=csv'")
    print(f"   curl -s '{base}/usage?groupBy=day&model=gpt-4o-2024-08-06'")
    print("\n   Ctrl+C stops it.\n", flush=True)
    from .__main__ import main

    return main(["serve", "--host", "127.0.0.1", "--port", str(port)])
