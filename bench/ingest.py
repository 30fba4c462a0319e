"""Ingest throughput: capture events through the real `ingest` function into SQLite, beside a floor.

The floor is measured in the same run on the same events: orjson parsing of each event and its bodies, plus
a bare sqlite3 executemany of exactly the rows the pipeline wrote (calls and payload text), in transactions
of the same batch size. Prints events/s for both and the ratio (pipeline / floor).

`--redact` picks the LEDGER_REDACT modes to run (default `secrets,pii`): each runs the same events into a
database of its own in this process, so the cost of `pii` reads as a ratio beside the same run's `secrets`
figure; the floor is measured on the first mode's rows.

`--baseline DIR` also runs another version's pipeline on the same events, for a before/after in one run:
DIR is a checkout of that version (e.g. `git worktree add /tmp/before a1296ea`, or `git archive a1296ea | tar
-x -C DIR`); its own bench/ingest.py and harness run its own code in a child process (this interpreter), with
the first redaction mode, alternating with this tree's pipeline `--rounds` times, each run into a fresh
database. Both are set beside the same floor.

`--breakdown` also prints where the first mode's time went: seconds in the SQL driver per family of tables
(calls and text, plain rollups, cumulative rollups, other statements) and in commits, and what is left (Python).

    python bench/ingest.py [--events 100000] [--batch-size 500] [--redact secrets,pii,off]
                           [--baseline DIR [--rounds 2]] [--breakdown]
"""

from __future__ import annotations

import argparse
import pickle
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from cpu_clock import CpuClock
from harness import bench_workdir, ingest_function
from sql_time import FAMILIES, SqlTimer


def _events(count: int) -> list[bytes]:
    from devhost.sample import generate_sample_events

    days = 30
    per_day = -(-count // days)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    events = []
    for body in generate_sample_events(start, days=days, calls_per_day=per_day, seed=11):
        events.append(body)
        if len(events) == count:
            break
    return events


def _floor_parse(events: list[bytes]) -> tuple[float, float]:
    """Wall-clock and CPU seconds to parse every event and its bodies."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for raw in events:
        doc = orjson.loads(raw)
        for side in ("request", "response"):
            body = (doc.get(side) or {}).get("body")
            if isinstance(body, str) and body[:1] in "{[":
                orjson.loads(body)
    return time.perf_counter() - started, time.process_time() - started_cpu


def _floor_insert(source_db: Path, target_db: Path, batch_size: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds to insert the rows `source_db` holds, in transactions of `batch_size`."""
    source = sqlite3.connect(source_db)
    tables = {}
    for table in ("calls", "call_payloads"):
        rows = source.execute(f"SELECT * FROM {table}").fetchall()
        ddl = source.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        tables[table] = (ddl, rows)
    source.close()
    target = sqlite3.connect(target_db, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    for ddl, _ in tables.values():
        target.execute(ddl)
    started, started_cpu = time.perf_counter(), time.process_time()
    count = len(tables["calls"][1])
    for offset in range(0, count, batch_size):
        target.execute("BEGIN")
        for name, (_, rows) in tables.items():
            chunk = rows[offset : offset + batch_size] if name == "calls" else list(rows[offset : offset + batch_size])
            if chunk:
                target.executemany(f"INSERT INTO {name} VALUES ({','.join('?' * len(chunk[0]))})", chunk)
        target.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    target.close()
    return elapsed, cpu


def _redact_modes(value: str) -> list[str]:
    from shared.ingest.redaction import REDACT_MODES

    modes = [mode.strip() for mode in value.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in REDACT_MODES]
    if not modes or unknown or len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"a comma-separated list of distinct modes among {', '.join(REDACT_MODES)}")
    return modes


def _run_pipeline(ingest, batches, database: Path, mode: str, on_warm=None) -> tuple[float, int]:
    """Seconds to ingest every batch with LEDGER_REDACT=`mode` into a fresh `database`; calls with a redaction.
    `on_warm` is called once warm, just before the timed batches."""
    import os

    from shared.app.wiring import reset_app_context
    from shared.ingest.tokens import preload

    database.parent.mkdir(parents=True, exist_ok=True)
    os.environ.update({"LEDGER_SQL_URL": f"sqlite:///{database}", "LEDGER_REDACT": mode})
    reset_app_context()  # the next call builds the context (and the redaction mode) from the environment
    ingest(batches[0][:1])  # warm-up, as on a warm instance: schema, price book, both tokenizer vocabularies
    preload("gpt-4o")
    preload("gpt-35-turbo")
    if on_warm is not None:
        on_warm()
    started = time.perf_counter()
    for batch in batches:
        ingest(batch)
    elapsed = time.perf_counter() - started
    with sqlite3.connect(database) as db:
        redacted = db.execute("SELECT count(*) FROM call_payloads WHERE redactions IS NOT NULL").fetchone()[0]
    return elapsed, redacted


# Runs in the child process with a baseline checkout first on sys.path: its own bench module, harness and code.
_BASELINE_RUN = """
import pickle, sys
from pathlib import Path
root, events_path, database, mode, size, clock_dir = sys.argv[1:]
sys.path[:0] = [root + "/bench", root]
sys.path.append(clock_dir)  # this tree's bench/cpu_clock.py, after the baseline's own modules
import ingest as bench
from cpu_clock import CpuClock
from harness import bench_workdir, ingest_function
bench_workdir("ledger-bench-baseline-")
import azure.functions as func
events = pickle.loads(Path(events_path).read_bytes())
size = int(size)
batches = [
    [func.EventHubEvent(body=body, sequence_number=i + j) for j, body in enumerate(events[i : i + size])]
    for i in range(0, len(events), size)
]
clock = CpuClock(ingest_function())
print(*bench._run_pipeline(clock, batches, Path(database), mode), clock.seconds())
"""


Run = tuple[float, int, float]  # wall-clock seconds, calls with a redaction, CPU seconds


def _run_baseline(root: Path, events_file: Path, database: Path, mode: str, batch_size: int) -> Run:
    """`_run_this` for the baseline checkout at `root`, on the same events."""
    database.parent.mkdir(parents=True, exist_ok=True)
    clock_dir = str(Path(__file__).resolve().parent)
    arguments = [str(root), str(events_file), str(database), mode, str(batch_size), clock_dir]
    command = [sys.executable, "-c", _BASELINE_RUN, *arguments]
    output = subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout.split()
    return float(output[-3]), int(output[-2]), float(output[-1])


def _run_this(ingest, batches, database: Path, mode: str) -> Run:
    """`_run_pipeline` with the CPU seconds of its timed batches beside its wall-clock seconds."""
    clock = CpuClock(ingest)
    elapsed, redacted = _run_pipeline(clock, batches, database, mode)
    return elapsed, redacted, clock.seconds()


def _start_sql_timer(timers: list[SqlTimer]):
    """An `on_warm` hook: times the SQL of the store the app built, from the timed batches on."""

    def start() -> None:
        from shared.app.wiring import app_context

        timers.append(SqlTimer(app_context().store.engine))

    return start


def _print_breakdown(timer: SqlTimer, wall: float, mode: str) -> None:
    print(f"  where LEDGER_REDACT={mode}'s {wall:.2f} s went (SQL timed in the driver calls):")
    for family in (*FAMILIES, "commit"):
        print(f"    {family + ':':<76} {timer.seconds[family]:>6.2f} s  {timer.seconds[family] / wall:>4.0%}")
    rest = wall - sum(timer.seconds.values())
    rest_label = "the rest: Python (decode, mask, bound, price, rollup sums, rows), SQLAlchemy:"
    print(f"    {rest_label:<76} {rest:>6.2f} s  {rest / wall:>4.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--redact",
        type=_redact_modes,
        default=["secrets", "pii"],
        help="LEDGER_REDACT modes to run, comma-separated (default: secrets,pii)",
    )
    parser.add_argument("--baseline", type=Path, help="a checkout of another version, run on the same events")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/this alternations with --baseline")
    parser.add_argument(
        "--breakdown", action="store_true", help="time the first mode's SQL per table family and its commits"
    )
    args = parser.parse_args(argv)
    workdir = bench_workdir("ledger-bench-")
    import azure.functions as func

    ingest = ingest_function()
    events = _events(args.events)
    size_mb = sum(map(len, events)) / 1e6
    batches = [
        [func.EventHubEvent(body=body, sequence_number=i + j) for j, body in enumerate(events[i : i + args.batch_size])]
        for i in range(0, len(events), args.batch_size)
    ]
    first = args.redact[0]
    timers: list[SqlTimer] = []
    runs = {
        mode: _run_pipeline(
            ingest,
            batches,
            workdir / mode / "ledger.db",
            mode,
            on_warm=_start_sql_timer(timers) if args.breakdown and mode == first else None,
        )
        for mode in args.redact
    }
    compared: list[tuple[str, Run]] = []
    if args.baseline is not None:
        events_file = workdir / "events.pickle"
        events_file.write_bytes(pickle.dumps(events))
        for round_ in range(1, args.rounds + 1):
            database = workdir / f"baseline-{round_}" / "ledger.db"
            compared.append(
                (
                    f"baseline, round {round_}",
                    _run_baseline(args.baseline, events_file, database, first, args.batch_size),
                )
            )
            this = _run_this(ingest, batches, workdir / f"this-{round_}" / "ledger.db", first)
            compared.append((f"this tree, round {round_}", this))
    parse, parse_cpu = _floor_parse(events)
    insert, insert_cpu = _floor_insert(workdir / first / "ledger.db", workdir / "floor.db", args.batch_size)
    floor, floor_cpu = parse + insert, parse_cpu + insert_cpu
    base = len(events) / floor
    print(
        f"ingest: {len(events):,} capture events ({size_mb:.0f} MB), batches of {args.batch_size}, SQLite WAL, one core"
    )
    for mode, (pipeline, redacted) in runs.items():
        ours = len(events) / pipeline
        beside = "" if mode == first else f", {runs[first][0] / pipeline:.2f} x {first}"
        print(
            f"  pipeline, LEDGER_REDACT={mode:<7}  {ours:>10,.0f} events/s  ({pipeline:.2f} s, "
            f"{redacted:,} calls with a redaction)  ratio pipeline/floor: {ours / base:.2f}{beside}"
        )
    for label, (pipeline, redacted, cpu) in compared:
        print(
            f"  {label + ':':<28} {len(events) / pipeline:>10,.0f} events/s  ({pipeline:.2f} s, CPU {cpu:.2f} s, "
            f"{redacted:,} calls with a redaction)  ratio pipeline/floor: {floor / pipeline:.2f}, in CPU time "
            f"{floor_cpu / cpu:.2f}"
        )
    if timers:
        _print_breakdown(timers[0], runs[first][0], first)
    print(
        f"  floor (orjson parse + executemany): {base:>8,.0f} events/s  ({floor:.2f} s = parse {parse:.2f} s + insert {insert:.2f} s; CPU {floor_cpu:.2f} s)"
    )
    print("  targets: >= 25,000 events/s, ratio >= 0.5")
    return 0


if __name__ == "__main__":
    sys.exit(main())
