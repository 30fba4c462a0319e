"""`make demo`: a sample month through the real ingest function, the seed's two reports, then the API."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

SAMPLE_FILE = Path(".ledger/sample-month.jsonl")


def _write_sample(start: datetime) -> int:
    from devhost.sample import generate_sample_events

    SAMPLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(SAMPLE_FILE, "wb") as handle:
        for body in generate_sample_events(start, days=30):
            handle.write(body + b"\n")
            count += 1
    return count


def run_demo(*, port: int = 7071, serve_api: bool = True) -> int:
    os.environ["LEDGER_AUTH"] = "dev"  # the demo serves on loopback only, where dev mode is allowed
    os.environ["LEDGER_EMAIL_MODE"] = "outbox"  # alert mails land as .eml files
    os.environ.setdefault("LEDGER_ALERT_TO", "ledger-admins@contoso.com")
    from devhost.functions import load_functions
    from devhost.replay import replay
    from shared.app.wiring import app_context
    from shared.reports.seed_reports import recent_prompts, render_table, tokens_by_ip_and_model

    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
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
    _alerts_demo(functions, port)
    if not serve_api:
        return 0
    base = f"http://127.0.0.1:{port}/api"
    print(f"\n6. the usage API (LEDGER_AUTH=dev) on {base} — try:\n")
    print(f"   curl -s '{base}/health'")
    print(f"   curl -s '{base}/usage?groupBy=subscription,model'")
    print(f"   curl -s '{base}/usage?groupBy=user&format=csv'")
    print(f"   curl -s '{base}/usage?groupBy=day&model=gpt-4o-2024-08-06'")
    print("\n   Ctrl+C stops it.\n", flush=True)
    from devhost.__main__ import main

    return main(["serve", "--host", "127.0.0.1", "--port", str(port)])


def _alerts_demo(functions, port: int) -> None:
    """A quota at 90 % of the busiest subscription's month, then both alert timers, as the host would run them."""
    from devhost.server import invoke_non_http
    from shared.alerts.quotas import Quota, period_bounds, put_quota
    from shared.app.wiring import app_context
    from shared.reports.usage import UsageQuery, query_usage

    context = app_context()
    now = datetime.now(UTC)
    start, _ = period_bounds("month", now, context.settings.timezone)
    with context.store.read() as conn:
        rows = query_usage(conn, UsageQuery(start, now, ("subscription",))).rows
    if rows:
        top = rows[0]
        with context.store.write() as conn:
            put_quota(
                conn,
                Quota(
                    "subscription",
                    top["subscription"],
                    "month",
                    round(top["totalTokens"] / 0.9),
                    None,
                    (50, 80, 100),
                    ("owner@contoso.com",),
                ),
            )
        print(
            f"\n5. a monthly quota for subscription {top['subscription']} at 90 % of its use so far; quota_check, anomaly_scan"
        )
    invoke_non_http(functions["quota_check"], {})
    invoke_non_http(functions["anomaly_scan"], {})
    outbox = context.settings.outbox_dir
    for mail in sorted(outbox.glob("*.eml")):
        print(f"   {mail}")
    print(f"   curl -s 'http://127.0.0.1:{port}/api/alerts'   curl -s 'http://127.0.0.1:{port}/api/quotas'")
