"""Usage API at scale: 10M calls over 90 days in SQLite, 30-day reports through the real route handler.

Builds a ledger of `--calls` calls with realistic cardinality (~50 subscriptions, ~2,000 users with a skewed
share of traffic, ~300 apps, ~3,000 IPs, 8 models; each user on one subscription, one app (sometimes a second)
and one IP (a quarter of calls from a second one), each app on one to three models), generated inside SQLite and
rolled up with one INSERT ... SELECT ... GROUP BY per rollup table: the figures ingest would write.

Then times `GET /api/usage?groupBy=user,model`, `groupBy=ip,model` and `GET /api/usage/timeseries?interval=day`
over 30 days through `shared.api.handle` (p50/p95 over `--runs` runs), beside a plain GROUP BY over the raw
rows of the same range in the same run, and prints the ratio; then the whole data of `GET /api/dashboard` for a
calendar month (totals, the day series, the top 10 by cost of users, subscriptions, apps and models, quotas,
alerts, dead letters) and the whole page, beside the five raw GROUP BYs that give the same figures. With a PTU plan
(`PTU_PLAN`) the `user,model` report and `/api/ptu` are timed twice: computed live (no read model yet, fewer runs:
the baseline), then from the PTU read model, whose build (the `ptu_refresh` timer's work for the 90 days, and for
one stale day) is timed on its own. `--only-ptu` times those alone. Beside them, a floor for the answer's size: as many
rows, already summed, read from one table and written out as JSON arrays (no merging, no names). Also shown:
the same reports from the wide (ten-dimension) rollup only, which is why the narrow rollups exist.

The ledger is built once and kept in `.bench-cache/` (gitignored; `--cache-dir` to put it elsewhere), named
by what it holds: the generator's version (GENERATOR_VERSION, bumped when the generator or the rollup build
changes), the number of calls, the days and a fingerprint of the app's schema. A rerun with the same name opens
that file read-only instead of rebuilding it (the read models the bench derives, `DERIVED_TABLES`, are not in the
fingerprint: each run builds them in a side file, `bench/read_models.py`): the full 10M-call bench takes 25+ minutes on a 2-core machine the
first time, a few minutes after. A build is written to a temporary name and renamed when it is complete, so an
interrupted build is never reused; a new build deletes the older ledgers of the same size. `--rebuild` forces one.
After the reports the bench checks that the file is as it was (size, mtime, no journal beside it); if the run
wrote to it, it is deleted rather than reused. `--calls 200000` is a quick run (one to two minutes with the
build, under a minute without) to check that the bench works, not for its figures: the narrow rollups pay off
against many calls.

    python bench/usage_api.py [--calls 10000000] [--runs 20] [--raw-runs 3] [--rebuild] [--cache-dir DIR] [--only-ptu]
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cache import CACHE_DIR, cached  # noqa: E402 - after the repository root goes on sys.path
from bench.read_models import refresh_ptu, store_with_read_models  # noqa: E402 - after the repository root goes on sys.path
from shared.store.measures import MEASURE_NAMES  # noqa: E402 - after the repository root goes on sys.path
from shared.store.rollups import dims_key  # noqa: E402 - after the repository root goes on sys.path
from shared.store.schema import DAY_TO_HOUR, MONTH_TO_DATE, ROLLUP_CUTS, ROLLUP_DIMENSIONS, Cumulative  # noqa: E402 - after the repository root goes on sys.path

# Bump when _GENERATE, the constants below or the rollup build change what the ledger holds, so a cached ledger
# from the older generator is not reused. Schema changes in shared/ need no bump (ledger_name fingerprints them).
GENERATOR_VERSION = 1
END = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 90
START = END - timedelta(days=DAYS)
MODELS = (
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "o3-mini-2025-01-31",
    "o4-mini-2025-04-16",
    "text-embedding-3-large",
    "text-embedding-3-small",
)
CHUNK = 1_000_000
# Tables the generator does not write: built by the bench in a side file beside each run (the PTU read model, and
# the change counts it is checked against, which a generated ledger has none of), so they are not in the cache key.
DERIVED_TABLES = ("usage_day_changes", "ptu_days", "ptu_day_shares")
# LEDGER_TEAMS_FILE of the `groupBy=team` report, as an organisation might write it: a few named people first,
# then teams by app, then ten teams of five subscriptions each (the generator's 50); the rest is no team's.
BENCH_TEAMS = [
    {"name": "research", "costCenter": "CC-100", "match": {"user": [f"oid-{u:04d}" for u in range(0, 2000, 40)]}},
    {"name": "portal", "costCenter": "CC-200", "match": {"app": [f"app-{a}" for a in range(0, 300, 10)]}},
    *(
        {
            "name": f"unit-{t}",
            "costCenter": f"CC-{300 + t % 4}",
            "match": {"subscription": [f"sub-{s}" for s in range(5 * t, 5 * t + 5)]},
        }
        for t in range(9)  # sub-45 .. sub-49 belong to no team
    ),
]

# Every row from a multiplicative hash of its index: deterministic, no Python per row. `u` (user) is skewed
# (a few heavy users, a long tail); subscription, apps, IPs and models follow from the user as in real tenants.
_GENERATE = """
WITH RECURSIVE seq(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < :hi),
g AS (SELECT i, (i * 2654435761 + 97) % 4294967296 AS a, (i * 40503 + 12345) % 65521 AS b,
             :start_s + (i * :step_us) / 1000000 AS ts, (i * :step_us) % 1000000 AS us FROM seq),
d AS (SELECT *, CAST(2000 * ((a >> 8) % 10007) * ((a >> 8) % 10007) / 100140049.0 AS INTEGER) AS u FROM g),
e AS (SELECT *, (u * 37 + CASE WHEN (a >> 20) % 8 = 0 THEN 1 ELSE 0 END) % 300 AS app,
             (u + CASE WHEN (a >> 23) % 4 = 0 THEN 2000 ELSE 0 END) % 3000 AS ipx FROM d),
f AS (SELECT *, (app * 3 + ((a >> 22) % (1 + app % 3))) % 8 AS m, (a >> 24) % 100 AS opr, (b * 7919) % 100 AS st FROM e),
h AS (SELECT *, CASE WHEN st < 96 THEN 50 + (b * 31) % 2000 ELSE 0 END AS pt,
             CASE WHEN st < 96 AND m < 6 THEN (a >> 12) % 800 ELSE 0 END AS ct FROM f)
INSERT INTO calls (call_id, time, hour, ingested_at, source, operation, deployment, model, ip, subscription_id,
    subscription_name, product_id, user_id, user_name, app_id, tenant_id, gateway, region, backend_id, status,
    duration_ms, streamed, content_filtered, prompt_tokens, completion_tokens, total_tokens, cached_tokens,
    reasoning_tokens, tokens_estimated, cost_usd, truncated, body_missing, stream_incomplete)
SELECT printf('b%09d', i),
       strftime('%Y-%m-%d %H:%M:%S', ts, 'unixepoch') || printf('.%06d', us),
       strftime('%Y-%m-%d %H:00:00.000000', ts, 'unixepoch'),
       strftime('%Y-%m-%d %H:%M:%S', ts, 'unixepoch') || printf('.%06d', us),
       'bench',
       CASE WHEN m >= 6 THEN 'embeddings' WHEN opr < 90 THEN 'chat.completions' ELSE 'responses' END,
       'dep-' || m, {model_case}, '10.' || (ipx / 256) || '.' || (ipx % 256) || '.7',
       'sub-' || (u % 50), 'team ' || (u % 50), 'product-' || (u % 4), printf('oid-%04d', u),
       'user' || u || '@contoso.com', 'app-' || app, 'tenant-1', 'apim-bench', 'eastus2', 'aoai-' || ((a >> 26) % 3),
       CASE WHEN st < 96 THEN 200 WHEN st < 98 THEN 429 WHEN st < 99 THEN 400 ELSE 500 END,
       200 + (a >> 3) % 3000, (a >> 5) & 1, 0, pt, ct, pt + ct, CASE WHEN b % 5 = 0 THEN pt / 2 ELSE 0 END, 0,
       CASE WHEN b % 50 = 0 THEN 1 ELSE 0 END,
       CASE WHEN m = 7 THEN NULL ELSE (pt * (m + 1) * 0.5 + ct * (m + 1) * 2.0) / 1000000 END,
       0, 0, 0
FROM h
"""

_MEASURES_FROM_CALLS = """count(*), sum(CASE WHEN status = 0 OR status >= 400 THEN 1 ELSE 0 END), sum(prompt_tokens),
    sum(completion_tokens), sum(total_tokens), sum(cached_tokens), sum(reasoning_tokens), sum(tokens_estimated),
    count(cost_usd), coalesce(sum(cost_usd), 0), coalesce(sum(duration_ms), 0), count(duration_ms)"""
_SUM_MEASURES = ", ".join(f"sum({m})" for m in MEASURE_NAMES)
_DAY = "substr(hour, 1, 10) || ' 00:00:00.000000'"


def _model_case() -> str:
    return "CASE m " + " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(MODELS)) + " END"


def app_schema() -> str:
    """What the app's own code puts in a ledger besides the generated rows: the SQLite schema it creates (every
    table and index but the read models the bench derives itself, `DERIVED_TABLES`) and the rollup key of a
    sample combination of dimensions."""
    from shared.store.sql import SqlStore

    store = SqlStore.from_url("sqlite://")
    with store.read() as conn:
        ddl = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT sql, tbl_name FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
            )
            if row[1] not in DERIVED_TABLES
        ]
    store.dispose()
    return "\n".join([*ddl, dims_key(tuple(f"{dim}-1" for dim in ROLLUP_DIMENSIONS))])


def ledger_name(calls: int, schema: str) -> str:
    """The cache key of a built ledger: what generated it, how big it is, and the schema it was built for."""
    fingerprint = hashlib.blake2b(schema.encode(), digest_size=6).hexdigest()
    return f"usage_api-gen{GENERATOR_VERSION}-{calls}calls-{DAYS}days-schema{fingerprint}.db"


def build(path: Path, count: int) -> None:
    from shared.store.sql import SqlStore

    SqlStore.from_url(f"sqlite:///{path}").dispose()  # the app's own schema (every table and index)
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("dims_key", len(ROLLUP_DIMENSIONS), lambda *dims: dims_key(dims), deterministic=True)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY", "threads=4"):
        db.execute(f"PRAGMA {pragma}")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='calls' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")  # built once at the end: sorting beats 10M random index inserts
    started = time.perf_counter()
    step_us = DAYS * 86400 * 1_000_000 // count
    generate = _GENERATE.replace("{model_case}", _model_case())
    for lo in range(0, count, CHUNK):
        db.execute("BEGIN")
        db.execute(
            generate, {"lo": lo, "hi": min(count, lo + CHUNK), "start_s": int(START.timestamp()), "step_us": step_us}
        )
        db.execute("COMMIT")
        print(
            f"  calls: {min(count, lo + CHUNK):,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True
        )
    for _, sql in indexes:
        db.execute(sql)
    print(f"  indexes ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    _build_rollups(db)
    db.execute("ANALYZE")
    # One self-contained file (no -wal or -shm beside it) that a read-only connection opens as it is.
    if db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
        raise RuntimeError(f"{path} stayed in WAL mode; a read-only open would need its -wal and -shm files")
    db.close()
    print(f"built {count:,} calls and their rollups in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _build_rollups(db: sqlite3.Connection) -> None:
    dims = ", ".join(ROLLUP_DIMENSIONS)
    blank_dims = ", ".join(f"coalesce({d}, {'0' if d == 'status' else chr(39) * 2})" for d in ROLLUP_DIMENSIONS)
    measures = ", ".join(MEASURE_NAMES)
    db.execute("BEGIN")
    _step(
        db,
        "usage_hourly",
        f"INSERT INTO usage_hourly (hour, dims_key, {dims}, {measures}) "
        f"SELECT hour, dims_key({blank_dims}), {blank_dims}, {_MEASURES_FROM_CALLS} FROM calls GROUP BY hour, {dims}",
    )
    _step(
        db,
        "usage_daily",
        f"INSERT INTO usage_daily (day, dims_key, {dims}, {measures}) "
        f"SELECT {_DAY}, dims_key, {dims}, {_SUM_MEASURES} FROM usage_hourly GROUP BY {_DAY}, dims_key",
    )
    for cut, kept in ROLLUP_CUTS.items():
        masked = ", ".join(d if d in kept else ("0" if d == "status" else "''") for d in ROLLUP_DIMENSIONS)
        group = ", ".join(kept)
        _step(
            db,
            f"hourly cut {cut}",
            f"INSERT INTO usage_hourly_cuts (cut, hour, dims_key, {dims}, {measures}) "
            f"SELECT '{cut}', hour, dims_key({masked}), {masked}, {_SUM_MEASURES} FROM usage_hourly GROUP BY hour, {group}",
        )
        _step(
            db,
            f"daily cut {cut}",
            f"INSERT INTO usage_daily_cuts (cut, day, dims_key, {dims}, {measures}) "
            f"SELECT cut, {_DAY}, dims_key, {dims}, {_SUM_MEASURES} FROM usage_hourly_cuts "
            f"WHERE cut = '{cut}' GROUP BY {_DAY}, dims_key",
        )
        for family in (MONTH_TO_DATE, DAY_TO_HOUR):
            started = time.perf_counter()
            _build_cumulative(db, family, cut)
            print(f"    {family.tables[cut].name} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    db.execute("COMMIT")


def _step(db: sqlite3.Connection, label: str, sql: str) -> None:
    started = time.perf_counter()
    db.execute(sql)
    print(f"    {label} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)


def _build_cumulative(db: sqlite3.Connection, family: Cumulative, cut: str) -> None:
    """Period-to-date sums per key and bucket, dense from a key's first bucket of the period (as ingest keeps
    them): each bucket is the bucket before (same period) plus that bucket's cut rows. Then the period marks."""
    table = family.tables[cut].name
    kept = ", ".join(ROLLUP_CUTS[cut])
    measures = ", ".join(MEASURE_NAMES)
    bucket = family.bucket
    source = "usage_daily_cuts" if bucket == "day" else "usage_hourly_cuts"
    period_chars = 8 if family.period == "month" else 11  # 'YYYY-MM-' or 'YYYY-MM-DD '
    buckets = [row[0] for row in db.execute(f"SELECT DISTINCT {bucket} FROM {source} WHERE cut = ? ORDER BY 1", (cut,))]
    for previous, current in pairwise([None, *buckets]):
        carried = (
            f"SELECT dims_key, {kept}, {measures} FROM {table} WHERE {bucket} = '{previous}' UNION ALL "
            if previous and previous[:period_chars] == current[:period_chars]
            else ""
        )
        db.execute(
            f"INSERT INTO {table} ({bucket}, dims_key, {kept}, {measures}) SELECT '{current}', dims_key, {kept}, {_SUM_MEASURES} "
            f"FROM ({carried}SELECT dims_key, {kept}, {measures} FROM {source} WHERE cut = '{cut}' AND {bucket} = '{current}') "
            f"GROUP BY dims_key"
        )
    period, last = (c.name for c in family.marks.c)
    start = (
        "substr(day, 1, 8) || '01 00:00:00.000000'"
        if family.period == "month"
        else "substr(hour, 1, 10) || ' 00:00:00.000000'"
    )
    db.execute(
        f"INSERT OR IGNORE INTO {family.marks.name} ({period}, {last}) SELECT {start}, max({bucket}) FROM {table} GROUP BY {start}"
    )


def _file_state(path: Path) -> tuple:
    """What a write to the ledger would change: its size and mtime, and the journal files beside it."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, sorted(p.name for p in path.parent.glob(path.name + "-*"))


def _timed(run, runs: int) -> list[float]:
    run()  # warm the page cache the way a serving instance is warm
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _answer_floor(raw: sqlite3.Connection, keys: tuple[str, ...], count: int) -> Callable[[], bytes]:
    """A lower bound for a report of `count` rows: as many rows, already summed, read from one table in the
    report's order with the same 17 values and written out as JSON arrays (no merging, no names)."""
    keys = () if keys == ("team",) else keys  # no table holds teams summed: the floor of as many rows of models
    cut = "_".join(keys) if keys else "user_model"
    columns = [{"user": "user_id"}.get(k, k) for k in keys] or ["model"]
    sql = (
        f"SELECT {', '.join(columns)}, requests, failed_requests, prompt_tokens, completion_tokens, total_tokens, "
        "cached_tokens, reasoning_tokens, total_tokens * 1.0 / requests, estimated_tokens_requests, "
        "requests - priced_requests, cost_usd, duration_ms_sum / duration_count, cost_usd, "
        f"duration_ms_sum, duration_count FROM usage_cum_{cut} WHERE day = (SELECT max(day) FROM usage_cum_{cut}) "
        f"ORDER BY total_tokens DESC LIMIT {count}"
    )
    return lambda: orjson.dumps(raw.execute(sql).fetchall())


def _team_case() -> str:
    """The raw scan's own spelling of the first matching team (the report's is built by shared.reports.teams)."""
    column = {"user": "user_id", "app": "app_id", "subscription": "subscription_id"}
    whens = [
        "WHEN "
        + " OR ".join(f"{column[k]} IN ({', '.join(repr(v) for v in vs)})" for k, vs in team["match"].items())
        + f" THEN '{team['name']}'"
        for team in BENCH_TEAMS
    ]
    return f"CASE {' '.join(whens)} END"


# Provisioned deployments of the generated ledger: dep-0 on any backend from day 30 on, dep-6 (embeddings) on one
# backend for days 40 to 80. A 30-day report meets both.
PTU_PLAN = {
    "deployments": [
        {
            "deployment": "dep-0",
            "backend": None,
            "ptu": 100,
            "hourlyUsd": 100.0,
            "from": (START + timedelta(days=30)).isoformat(),
            "to": None,
        },
        {
            "deployment": "dep-6",
            "backend": "aoai-1",
            "ptu": 50,
            "hourlyUsd": 50.0,
            "from": (START + timedelta(days=40)).isoformat(),
            "to": (START + timedelta(days=80)).isoformat(),
        },
    ]
}
_PTU_RAW_SQL = (
    "SELECT deployment, backend_id, substr(time, 1, 16), sum(total_tokens) FROM calls WHERE time >= ? AND time < ? "
    "AND deployment IN ('dep-0', 'dep-6') GROUP BY 1, 2, 3"
)


def _check_ptu(items: list[dict], scanned: list[tuple]) -> None:
    """/api/ptu's tokens and peak minute are what the raw scan finds."""
    for item in items:
        minutes: dict[str, int] = {}
        for deployment, backend, minute, tokens in scanned:
            if deployment == item["deployment"] and item["backend"] in (None, backend):
                minutes[minute] = minutes.get(minute, 0) + tokens
        assert item["peakTokensPerMinute"] <= max(minutes.values(), default=0), item
        if item["deployment"] == "dep-0":  # provisioned throughout the 30-day ranges
            assert (item["totalTokens"], item["peakTokensPerMinute"]) == (sum(minutes.values()), max(minutes.values()))


def _raw_sql(keys: tuple[str, ...], daily: bool = False) -> str:
    columns = [
        {"user": "user_id", "subscription": "subscription_id", "app": "app_id", "team": _team_case()}.get(k, k)
        for k in keys
    ]
    if daily:
        columns = ["substr(time, 1, 10)"]
    select = ", ".join(columns)
    return f"SELECT {select}, {_MEASURES_FROM_CALLS} FROM calls WHERE time >= ? AND time < ? GROUP BY {select}"


def _dashboard(context, raw: sqlite3.Connection, month: tuple[datetime, datetime], args) -> tuple[float, float]:
    """`GET /api/dashboard` for a calendar month: its data (totals, the per-day series, the top 10 by cost of four
    keys, quotas, alerts, dead letters) and the whole page, beside the raw GROUP BYs that give the same figures."""
    from shared.api.auth import DEV_CALLER
    from shared.api.dashboard_data import TOP_KEYS, DashboardRange, Sections, dashboard_data
    from shared.api.handler import handle
    from shared.api.http import ApiRequest

    view, sections = DashboardRange(*month, "month"), Sections.of(DEV_CALLER)

    def data():
        with context.store.read() as conn:
            return dashboard_data(conn, view, {}, None, sections, now=month[1], tz=context.settings.timezone)

    query = {"from": [month[0].isoformat()], "to": [month[1].isoformat()]}
    bounds = tuple(moment.replace(tzinfo=None).isoformat(" ", "microseconds") for moment in month)
    scans = [_raw_sql((), daily=True), *(_raw_sql((key,)) for key in TOP_KEYS)]
    scanned = [raw.execute(sql, bounds).fetchall() for sql in scans]
    shown = data()
    # The same numbers as the raw scan: every day's calls, and each top row's calls.
    per_day = {day["time"][:10]: day["requests"] for day in shown.days if day["requests"]}
    assert per_day == {row[0]: row[1] for row in scanned[0]}
    for key, rows in zip(TOP_KEYS, scanned[1:], strict=True):
        calls = {row[0]: row[1] for row in rows}
        assert all(calls[row[key]] == row["requests"] for row in shown.top[key]), key
    page = handle("dashboard", ApiRequest("GET", "/api/dashboard", query), context)
    assert page.status == 200, page.body[:300]
    timed = _timed(data, args.runs)
    whole = _timed(lambda: handle("dashboard", ApiRequest("GET", "/api/dashboard", query), context), args.runs)
    scan = _timed(lambda: [raw.execute(sql, bounds).fetchall() for sql in scans], args.raw_runs)
    ratio = statistics.median(scan) / _p(timed, 0.5)
    for label, values in (("dashboard data", timed), ("dashboard page (HTML)", whole)):
        print(
            f"{label:<28} {'month':<10} {len(shown.days):>6,} {_p(values, 0.5):>8.1f} {_p(values, 0.95):>8.1f} "
            f"{statistics.median(scan):>11.0f} {statistics.median(scan) / _p(values, 0.5):>6.0f}x {'':>9}"
        )
    return _p(timed, 0.95), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="build the ledger again even when it is cached")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where built ledgers are kept")
    parser.add_argument("--only-ptu", action="store_true", help="time the provisioned-throughput (PTU) reports only")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.runs < 1 or args.raw_runs < 1:
        parser.error("--calls, --runs and --raw-runs must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind (and drop a partial build) as Ctrl-C does
    path = args.cache_dir / ledger_name(args.calls, app_schema())
    started = time.perf_counter()
    print(f"ledger {path} ...", file=sys.stderr, flush=True)
    built = cached(
        path,
        lambda partial: build(partial, args.calls),
        rebuild=args.rebuild,
        supersedes=f"usage_api-*-{args.calls}calls-*.db",
    )
    print(f"{'built' if built else 'reused'} in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    before = _file_state(path)
    report(path, args)
    if _file_state(path) != before:  # then its figures are no longer what its name says: never reuse it
        path.unlink()
        raise SystemExit(f"the bench wrote to its cached ledger {path}, so it was deleted; a rerun builds it again")
    return 0


def report(path: Path, args: argparse.Namespace) -> None:
    """The timings, from the ledger at `path` opened read-only (its derived read models in a side file)."""
    with store_with_read_models(path, DERIVED_TABLES) as store:
        _report(path, args, store)


def _report(path: Path, args: argparse.Namespace, store) -> None:
    from shared.app.settings import load_settings
    from shared.app.wiring import AppContext

    # The app's SqlStore over the ledger attached read-only (`read_models`), so the bench cannot change the cached
    # ledger (the app's own engine would switch the file to WAL on connect).
    url = f"sqlite:///file:{path}?mode=ro&uri=true"  # only named in the settings; the store is `store`
    env = {"LEDGER_AUTH": "dev", "LEDGER_SQL_URL": url, "LEDGER_EMAIL_MODE": "off"}
    settings_dir = Path(tempfile.mkdtemp(prefix="bench-settings-"))  # never beside the cached ledger
    teams_file, ptu_file = settings_dir / "teams.json", settings_dir / "ptu.json"  # read when a context is built
    teams_file.write_bytes(orjson.dumps({"teams": BENCH_TEAMS}))
    ptu_file.write_bytes(orjson.dumps(PTU_PLAN))
    context = AppContext(settings=load_settings({**env, "LEDGER_TEAMS_FILE": str(teams_file)}), store=store)
    ptu_context = AppContext(settings=load_settings({**env, "LEDGER_PTU_FILE": str(ptu_file)}), store=store)
    teams_file.unlink()
    ptu_file.unlink()
    settings_dir.rmdir()
    # A calendar month (one read of the month-to-date sums), 30 whole days across a month's end, and a rolling
    # 30 days ending mid-hour (the API's default range: edge minutes, edge days' hours and whole days).
    ranges = {
        "month": (END - timedelta(days=30), END),
        "30 days": (END - timedelta(days=45), END - timedelta(days=15)),
        "rolling": (
            END - timedelta(days=30, hours=10, minutes=32, seconds=50),
            END - timedelta(hours=10, minutes=32, seconds=50),
        ),
    }
    cases = [
        ("usage groupBy=user,model", "usage", {"groupBy": "user,model"}, ("user", "model"), False),
        ("usage groupBy=ip,model", "usage", {"groupBy": "ip,model"}, ("ip", "model"), False),
        ("usage groupBy=team", "usage", {"groupBy": "team"}, ("team",), False),
        ("timeseries interval=day", "usage_timeseries", {"interval": "day"}, (), True),
    ]
    # With LEDGER_PTU_FILE: the same report plus each provisioned entry's shares; and /api/ptu beside a raw scan of
    # what it needs (tokens per deployment, backend and minute). First computed live (no read model yet: the
    # baseline, fewer runs), then from the read model the `ptu_refresh` timer builds (its time printed).
    ptu_cases = [
        ("PTU usage groupBy=user,model", "usage", {"groupBy": "user,model"}, ("user", "model"), False),
        ("PTU /api/ptu", "ptu", {}, (), False),
    ]
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    print(
        f"\n{args.calls:,} calls over {DAYS} days; 30-day reports through shared.api.handle "
        f"({args.runs} runs; raw GROUP BY: {args.raw_runs} runs)\n"
    )
    header = f"{'report':<28} {'range':<10} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'raw p50 ms':>11} {'ratio':>7} {'floor ms':>9}"
    print(header + "\n" + "-" * len(header))
    worst_p95, worst_ratio = 0.0, float("inf")
    timed = [(case, context, args.runs, "") for case in ([] if args.only_ptu else cases)]
    timed += [(case, ptu_context, min(args.runs, 3), " live") for case in ptu_cases]
    timed += [(case, ptu_context, args.runs, "") for case in ptu_cases]
    for index, (case, served, runs, suffix) in enumerate(timed):
        if suffix == "" and case[0].startswith("PTU") and timed[index - 1][3] == " live":
            every, one = refresh_ptu(store, ptu_context.ptu_plan, END)
            print(f"{'PTU read model refresh':<28} {'90 days':<10} {'':>6} {every * 1000:>8.0f}")
            print(f"{'PTU read model refresh':<28} {'one day':<10} {'':>6} {one * 1000:>8.0f}")
        for range_name, bounds in ranges.items():
            p95, ratio = _time_case(case, served, raw, range_name, bounds, runs, suffix, args)
            if not suffix:
                worst_p95, worst_ratio = max(worst_p95, p95), min(worst_ratio, ratio)
    if not args.only_ptu:
        dashboard_p95, dashboard_ratio = _dashboard(context, raw, ranges["month"], args)
        worst_p95, worst_ratio = max(worst_p95, dashboard_p95), min(worst_ratio, dashboard_ratio)
        _wide_reports(context, cases, ranges["month"])
    print(
        f"\nworst p95 {worst_p95:.1f} ms (target <= 50); worst ratio to the raw scan {worst_ratio:.0f}x (target >= 100x)"
    )
    print("floor (p50): as many rows, already summed, read from one table and written as JSON arrays")
    raw.close()


def _time_case(case, served, raw: sqlite3.Connection, range_name: str, bounds_, runs: int, suffix: str, args):
    """One report over one range: checked against the raw scan, timed, printed; its p95 and ratio to the scan."""
    from shared.api.handler import handle
    from shared.api.http import ApiRequest

    label, route, params, keys, series = case
    start, end = bounds_
    raw_sql = _PTU_RAW_SQL if route == "ptu" else _raw_sql(keys, series)
    query = {**params, "from": [start.isoformat()], "to": [end.isoformat()]}
    query = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    response = handle(route, ApiRequest("GET", f"/api/{route}", query), served)
    assert response.status == 200, response.body[:300]
    report = orjson.loads(response.body)
    rows = len(report["items" if route == "ptu" else "rows"])
    api = _timed(lambda: handle(route, ApiRequest("GET", f"/api/{route}", query), served), runs)
    bounds = (
        start.replace(tzinfo=None).isoformat(" ", "microseconds"),
        end.replace(tzinfo=None).isoformat(" ", "microseconds"),
    )
    scanned = raw.execute(raw_sql, bounds).fetchall()
    # The same numbers as the raw scan, or the speed means nothing.
    if route == "ptu":
        _check_ptu(report["items"], scanned)
    else:
        assert (rows, report["totals"]["requests"]) == (len(scanned), sum(r[len(keys) or 1] for r in scanned)), label
    scan = _timed(lambda: raw.execute(raw_sql, bounds).fetchall(), args.raw_runs)
    ratio = statistics.median(scan) / _p(api, 0.5)
    floor = _timed(_answer_floor(raw, keys, rows), args.runs) if route != "ptu" else [float("nan")]
    print(
        f"{label + suffix:<28} {range_name:<10} {rows:>6,} {_p(api, 0.5):>8.1f} {_p(api, 0.95):>8.1f} "
        f"{statistics.median(scan):>11.0f} {ratio:>6.0f}x {_p(floor, 0.5):>9.1f}"
    )
    return _p(api, 0.95), ratio


def _wide_reports(context, cases, month: tuple[datetime, datetime]) -> None:
    from shared.reports.usage import UsageQuery, query_usage

    print("\nthe same calendar-month reports from the wide ten-dimension rollup only (no narrow rollups):")

    def wide_report(group: tuple[str, ...]) -> None:
        with context.store.read() as conn:
            query_usage(conn, UsageQuery(*month, group, narrow_rollups=False))

    for label, _, _, keys, series in cases[:3]:
        group = ("day",) if series else keys
        wide = _timed(lambda: wide_report(group), 3)  # noqa: B023 - called at once, within this iteration
        print(f"  {label:<28} p50 {statistics.median(wide):>8.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
