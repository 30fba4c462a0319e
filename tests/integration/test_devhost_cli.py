"""`python -m devhost` as a person types it: each mistake is one line on stderr that says what to do, exit 2 for
usage and 1 for failures, and no traceback unless --debug."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local_host import devhost_env, local_host
from tests.net import free_port, http_call


def _devhost(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devhost", *args],
        cwd=tmp_path,
        env=devhost_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _closed_port_url() -> str:
    return f"postgresql+psycopg://ledger:s3cret@127.0.0.1:{free_port()}/ledger"


@pytest.fixture
def sample_file(tmp_path) -> Path:
    path = tmp_path / "day.jsonl"
    assert _devhost(tmp_path, "sample", "--out", str(path), "--days", "1", "--calls-per-day", "5").returncode == 0
    return path


MISTAKES = {  # name: (arguments, extra environment, exit code, words the line must hold)
    "missing file": (["replay", "nowhere.jsonl"], {}, 2, ["nowhere.jsonl: no such file", "devhost sample --out"]),
    "a directory": (["replay", "."], {}, 2, ["is a directory", "name the files in it"]),
    "batch size 0": (["replay", "{sample}", "--batch-size", "0"], {}, 2, ["--batch-size", "at least 1"]),
    "unknown option": (["replay", "{sample}", "--bogus"], {}, 2, ["--bogus", "--help"]),
    "sample into a missing folder": (
        ["sample", "--out", "no/such/dir/m.jsonl"],
        {},
        2,
        ["does not exist", "create it"],
    ),
    "LEDGER_SQL_URL not a URL": (
        ["replay", "{sample}"],
        {"LEDGER_SQL_URL": "ledger.db"},
        2,
        ["LEDGER_SQL_URL must be a SQLAlchemy URL", "local.settings.json"],
    ),
    "LEDGER_SQL_URL unknown dialect": (
        ["replay", "{sample}"],
        {"LEDGER_SQL_URL": "sqlserver://x/y"},
        2,
        ["LEDGER_SQL_URL sqlserver://x/y cannot be opened", "such as sqlite:///"],
    ),
    "unreachable database": (
        ["replay", "{sample}"],
        {"LEDGER_SQL_URL": "{closed}"},
        1,
        ["cannot reach the database", "start it", "ledger:***@"],
    ),
    "bad teams file on replay": (
        ["replay", "{sample}"],
        {"LEDGER_TEAMS_FILE": "{teams}"},
        2,
        ["LEDGER_TEAMS_FILE", "teams.json: team 'ops' (#2): match.subscriptions is not a match key", "fix the file"],
    ),
    "bad teams file on serve": (
        ["serve", "--port", "0", "--no-timers"],
        {"LEDGER_TEAMS_FILE": "{teams}"},
        2,
        ["LEDGER_TEAMS_FILE", "team 'ops' (#2)", "use subscription, product, app or user"],
    ),
    "bad Avro": (["replay", "{avro}"], {}, 1, ["not an Avro container file", "give Event Hubs Capture .avro files"]),
}


@pytest.mark.parametrize("args, extra, code, words", MISTAKES.values(), ids=MISTAKES.keys())
def test_each_cli_mistake_is_one_line_naming_it_and_what_to_do(tmp_path, sample_file, args, extra, code, words):
    avro = tmp_path / "notes.avro"
    avro.write_text("these are notes, not a capture file\n")
    teams = tmp_path / "teams.json"
    teams.write_text(
        json.dumps(
            {"teams": [{"name": "ads", "match": {"app": ["a"]}}, {"name": "ops", "match": {"subscriptions": []}}]}
        )
    )
    fill = {"{sample}": str(sample_file), "{avro}": str(avro), "{closed}": _closed_port_url(), "{teams}": str(teams)}
    result = _devhost(tmp_path, *[fill.get(a, a) for a in args], **{k: fill.get(v, v) for k, v in extra.items()})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


def test_debug_shows_the_traceback_of_a_failure(tmp_path, sample_file):
    result = _devhost(tmp_path, "replay", str(sample_file), "--debug", LEDGER_SQL_URL=_closed_port_url())
    assert result.returncode == 1 and "Traceback" in result.stderr and "OperationalError" in result.stderr


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _devhost(tmp_path, "serve", "--port", str(port), "--no-timers")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"devhost serve: 127.0.0.1:{port} is already in use; stop what listens there or choose another --port"
    ]


def test_sample_out_writes_the_month_the_readme_names_and_replay_reads_it(tmp_path):
    written = _devhost(tmp_path, "sample", "--out", "month.jsonl")  # exactly as the README says
    assert written.returncode == 0, written.stderr
    lines = (tmp_path / "month.jsonl").read_bytes().splitlines()
    assert len(lines) > 10_000 and all(json.loads(line)["schema"] == "aoai-ledger/capture/v1" for line in lines[:50])
    replayed = _devhost(tmp_path, "replay", "month.jsonl", "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout.splitlines()[-1])["events"] == len(lines)


def _access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\dT\S+Z 127.0.0.1 ", line)]


def test_serve_logs_one_access_line_per_request_and_its_401_points_at_dev_mode(tmp_path):
    with local_host(tmp_path, LEDGER_AUTH="easyauth") as (base, log):
        status, body = http_call(f"{base}/api/usage?groupBy=model")
        assert status == 401 and "LEDGER_AUTH=dev" in json.loads(body)["detail"]
        assert http_call(f"{base}/api/health")[0] == 200
        assert http_call(f"{base}/api/no-such-route")[0] == 404
        # A line is written once its answer has gone: give the last ones a moment before the server stops.
        deadline = time.monotonic() + 10
        while len(_access_lines(log.read_text())) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    text = log.read_text()
    access = _access_lines(text)
    # One line per request; a request's line is written once its answer has gone, so a quick next request on
    # another thread may log first: the lines, not their order, are what this checks.
    assert sorted(line.split()[2:5] for line in access) == sorted(
        [
            ["GET", "/api/openapi.json", "200"],
            ["GET", "/api/usage?groupBy=model", "401"],
            ["GET", "/api/health", "200"],
            ["GET", "/api/no-such-route", "404"],
        ]
    )
    assert "start it with LEDGER_AUTH=dev" in text


def test_health_is_503_with_a_reason_while_the_store_is_down_and_the_docs_still_answer(tmp_path):
    with local_host(tmp_path, LEDGER_SQL_URL=_closed_port_url()) as (base, log):
        status, body = http_call(f"{base}/api/health")
        assert status == 503 and json.loads(body) == {
            "status": "unhealthy",
            "store": "unreachable: OperationalError; the app's log has the database's message",
        }
        status, body = http_call(f"{base}/api/usage")
        assert status == 503 and "store is unreachable" in json.loads(body)["detail"]
        assert http_call(f"{base}/api/openapi.json")[0] == 200
    text = log.read_text()
    assert "devhost: warning: cannot reach the database" in text and "Traceback" not in text and "s3cret" not in text
