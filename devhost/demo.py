"""`make demo`: a sample month through the real ingest function, the seed's two reports and a chargeback one,
alerts, then the API.

Everything it prints fits one screen of 120 columns: the top 10 rows and a totals line per report, the mails this
run sent, then where to look next.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

SAMPLE_FILE = Path(".ledger/sample-month.jsonl")
WIDTH = 120  # columns: every line the demo prints fits a laptop terminal
TOP = 10


def _write_sample(start: datetime) -> int:
    from devhost.sample import generate_sample_events

    SAMPLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(SAMPLE_FILE, "wb") as handle:
        for body in generate_sample_events(start, days=30):
            handle.write(body + b"\n")
            count += 1
    return count


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def run_demo(*, port: int = 7071, serve_api: bool = True) -> int:
    os.environ["LEDGER_AUTH"] = "dev"  # the demo serves on loopback only, where dev mode is allowed
    os.environ["LEDGER_EMAIL_MODE"] = "outbox"  # alert mails land as .eml files
    os.environ.setdefault("LEDGER_ALERT_TO", "ledger-admins@contoso.com")
    from devhost.functions import load_functions
    from devhost.replay import replay
    from shared.app.wiring import app_context
    from shared.reports.seed_reports import prompt_totals, recent_prompts, render_table, tokens_by_ip_and_model
    from shared.reports.usage import UsageQuery, query_usage

    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=30)
    print(
        _fit(f"1. writing a sample month of APIM capture events ({start:%Y-%m-%d} .. {end:%Y-%m-%d}) to {SAMPLE_FILE}")
    )
    print(f"   {_write_sample(start):,} events")
    functions = load_functions()
    print(_fit(f"2. replaying them through the `ingest` function into {app_context().settings.sql_url}"))
    first = replay(functions["ingest"], [SAMPLE_FILE])
    print("   " + ", ".join(f"{k}: {v:,}" for k, v in first.as_json().items()))
    again = replay(functions["ingest"], [SAMPLE_FILE])
    print("   replayed again (idempotent): " + ", ".join(f"{k}: {v:,}" for k, v in again.as_json().items()))
    with app_context().store.read() as conn:
        by_ip = tokens_by_ip_and_model(conn, start, end)
        prompts = recent_prompts(conn, limit=TOP)
        with_text = prompt_totals(conn)
        by_user = query_usage(conn, UsageQuery(start, end, ("user", "subscription")))  # names beside the ids
    print(f"\n3. Report 1: tokens by caller IP and model (last 30 days), top {TOP} of {len(by_ip.rows):,} by tokens\n")
    columns = ["ip", "model", "requests", "promptTokens", "completionTokens", "totalTokens", "costUsd"]
    totals = {**by_ip.totals, "ip": f"total ({len(by_ip.rows):,} rows)"}
    print(render_table(by_ip.rows[:TOP], columns, totals=totals, max_width=WIDTH))
    print(f"\n4. Report 2: prompt text of the {TOP} most recent of {with_text['calls']:,} calls with text\n")
    totals = {"time": "total", "totalTokens": with_text["totalTokens"]}
    print(render_table(prompts, ["time", "ip", "model", "totalTokens", "prompt"], totals=totals, max_width=WIDTH))
    _chargeback_table(by_user)
    _alerts_demo(functions, as_of=end - timedelta(seconds=1))
    base = f"http://127.0.0.1:{port}/api"
    print("\n7. where to look next (LEDGER_AUTH=dev: no token needed, this machine only)\n")
    if not serve_api:
        print("   first serve the API: LEDGER_AUTH=dev python -m devhost serve")
    # The sample spans the last 30 days; the page's default (this month) could hide most of it on the 1st.
    print(f"   dashboard, open it in a browser: {base}/dashboard?period=30d")
    print(f"   API docs, every route and how to get a token: {base}/docs")
    for path in (
        "health",
        "usage?groupBy=subscription,model",
        "usage?groupBy=user&format=csv",
        "usage?groupBy=day&model=gpt-4o-2024-08-06",
        "usage?groupBy=model&user=kofi@contoso.com",  # a filter takes the id or the name
        "quotas",
        "alerts",
    ):
        print(f"   curl -s '{base}/{path}'")
    if not serve_api:
        return 0
    print("\n   Ctrl+C stops it.\n", flush=True)
    from devhost.__main__ import main

    return main(["serve", "--host", "127.0.0.1", "--port", str(port)])


def _chargeback_table(by_user) -> None:
    """Report 3: who spent what, people and subscriptions by name ("kofi@contoso.com (82c34a1e…)"), not GUIDs."""
    from shared.reports.names import row_label
    from shared.reports.seed_reports import render_table

    rows = sorted(by_user.rows, key=lambda row: (-(row["costUsd"] or 0), -row["totalTokens"]))[:TOP]
    print(f"\n5. Report 3: cost by user and subscription (last 30 days), top {TOP} of {len(by_user.rows):,} by cost\n")
    named = [{**row, "user": row_label(row, "user"), "subscription": row_label(row, "subscription")} for row in rows]
    columns = ["user", "subscription", "requests", "totalTokens", "costUsd"]
    totals = {**by_user.totals, "user": f"total ({len(by_user.rows):,} rows)"}
    print(render_table(named, columns, totals=totals, max_width=WIDTH))


def _alerts_demo(functions, *, as_of: datetime) -> None:
    """A quota at 90 % of the busiest subscription's month, checked as of the sample's last second, then the
    anomaly timer as the host runs it. The limit comes from the month holding the sample's end, not from today,
    so the 80 % threshold is crossed on any day of the month (on the 1st, this month has no calls yet)."""
    from devhost.server import invoke_non_http
    from shared.alerts.quotas import Quota, period_bounds, put_quota
    from shared.app.wiring import app_context
    from shared.jobs.quota_check import run_quota_check
    from shared.reports.names import row_label
    from shared.reports.usage import UsageQuery, query_usage

    context = app_context()
    outbox = context.settings.outbox_dir
    before = set(outbox.glob("*.eml"))
    start, _ = period_bounds("month", as_of, context.settings.timezone)
    with context.store.read() as conn:
        rows = query_usage(conn, UsageQuery(start, as_of, ("subscription",))).rows
    if rows:
        scope, used = rows[0]["subscription"], rows[0]["totalTokens"]  # the same window quota_check totals
        label = row_label(rows[0], "subscription")
        with context.store.write() as conn:
            put_quota(
                conn,
                Quota(
                    "subscription",
                    scope,
                    "month",
                    max(1, round(used / 0.9)),
                    None,
                    (50, 80, 100),
                    ("owner@contoso.com",),
                ),
            )
        print(f"\n6. a monthly quota for subscription {label} at 90 % of its {as_of:%B} use; quota_check")
        run_quota_check(context, now=as_of)  # what the quota_check timer runs, at the sample's clock
    print("   then anomaly_scan, as the timers would run them")
    invoke_non_http(functions["anomaly_scan"], {})
    sent = sorted(set(outbox.glob("*.eml")) - before, key=lambda path: path.stat().st_mtime_ns)
    print(f"   mails sent now, in {outbox}" if sent else "   no new mails: an earlier run sent them (see /api/alerts)")
    for mail in sent:
        subject = message_from_bytes(mail.read_bytes(), policy=default_policy)["Subject"]
        print(_fit(f"   {mail.name}  {subject}"))
