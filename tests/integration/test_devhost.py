"""The local host over real HTTP and the replay command, as a developer runs them."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from devhost.capture_avro import write_capture_avro
from devhost.cron import Schedule
from shared.store.sql import SqlStore
from tests.builders import capture_event, chat_response, encode
from tests.local_host import ROOT, devhost_env, run_devhost
from tests.net import free_port, http_call


@pytest.fixture
def served(tmp_path):
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:  # a file, not a pipe nobody reads: the access log must not block
        process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "serve", "--port", str(port), "--no-timers"],
            cwd=ROOT,
            env=devhost_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http_call(f"{base}/api/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError((tmp_path / "serve.log").read_text())
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_serve_answers_the_usage_api_and_ingests_through_the_admin_endpoint(served):
    event = capture_event(call_id="admin-1", time=datetime.now(UTC).isoformat())
    status, _ = http_call(
        f"{served}/admin/functions/ingest", json.dumps({"input": encode(event).decode()}).encode(), "POST"
    )
    assert status == 202
    status, body = http_call(f"{served}/api/usage?groupBy=model")
    assert status == 200
    rows = json.loads(body)["rows"]
    assert len(rows) == 1 and rows[0]["model"] == "gpt-4o-2024-08-06" and rows[0]["requests"] == 1


def test_serve_returns_problem_json_for_bad_parameters_and_404_for_unknown_routes(served):
    status, body = http_call(f"{served}/api/usage?groupBy=user,model,ip,day")
    assert status == 400 and "at most 3" in json.loads(body)["detail"]
    assert http_call(f"{served}/api/nothing-here")[0] == 404


@pytest.mark.parametrize("spelling", ["dev", " DEV ", "Dev\t"])
def test_serve_refuses_dev_mode_on_a_non_loopback_address_whatever_its_spelling(tmp_path, spelling):
    result = run_devhost(
        ["serve", "--host", "0.0.0.0", "--port", str(free_port())], devhost_env(tmp_path, LEDGER_AUTH=spelling)
    )
    assert result.returncode == 2 and "refusing" in result.stderr


def _raw(base: str, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are (no client fixes them up) and read the whole answer."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.replace(b"{port}", str(port).encode()))
        sock.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


MALFORMED = {
    "no version": (b"GARBAGE\r\n\r\n", 400),
    "Content-Length not a number": (
        b"PUT /api/quotas/user/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: abc\r\n\r\n",
        400,
    ),
    "negative Content-Length": (
        b"PUT /api/quotas/user/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: -5\r\n\r\n{}",
        400,
    ),
    "two Content-Lengths": (
        b"PUT /api/quotas/user/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        400,
    ),
    "exabyte body": (
        b"PUT /api/quotas/user/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 99999999999999999999\r\n\r\n",
        413,
    ),
    "chunked body": (
        b"PUT /api/quotas/user/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        411,
    ),
    "path not UTF-8": (b"GET /api/requests/%FF%FE HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    "query not UTF-8": (b"GET /api/usage?model=%C3%28 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    "raw bytes in the target": (b"GET /api/requests/\xff HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    "header without a colon": (b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nBroken\r\n\r\n", 400),
    "HTTP/1.1 without Host": (b"GET /api/health HTTP/1.1\r\n\r\n", 400),
    "admin body not JSON": (
        b"POST /admin/functions/ingest HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5\r\n\r\n{bad!",
        400,
    ),
}


@pytest.mark.parametrize("request_bytes, status", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_gets_its_4xx_problem_and_the_host_keeps_serving(served, request_bytes, status):
    answered, headers, body = _raw(served, request_bytes)
    assert answered == status and headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == status
    assert http_call(f"{served}/api/health")[0] == 200


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LocalHost:{port}", 200),
        ("evil.example:{port}", 403),
        ("127.0.0.1.nip.io:{port}", 403),
        ("localhost:1", 403),
        ("evil.example", 403),
    ],
)
def test_dev_mode_answers_only_requests_addressed_to_the_local_host(served, host, status):
    event = encode(capture_event(call_id=f"rebound-{status}-{len(host)}", time=datetime.now(UTC).isoformat()))
    admin = json.dumps({"input": event.decode()}).encode()
    for request in (
        b"GET /api/usage HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode(),
        b"POST /admin/functions/ingest HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (host.encode(), len(admin), admin),
    ):
        answered, _, body = _raw(served, request)
        assert answered == (status if status != 200 or b"GET" in request[:3] else 202), (host, body)
        if status == 403:
            assert "answers only requests addressed to" in json.loads(body)["detail"]


def test_replay_twice_records_nothing_the_second_time_and_dead_letters_exactly_the_garbage_lines(tmp_path):
    lines = [encode(capture_event(call_id=f"replay-{i}")) for i in range(20)]
    lines.insert(5, b"garbage line")
    lines.insert(12, b'{"truncated": ')
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    env = devhost_env(tmp_path)
    first = json.loads(
        run_devhost(["replay", str(path), "--json", "--batch-size", "7"], env).stdout.strip().splitlines()[-1]
    )
    second = json.loads(run_devhost(["replay", str(path), "--json"], env).stdout.strip().splitlines()[-1])
    assert first == {"events": 22, "recorded": 20, "duplicates": 0, "deadLettered": 2, "pending": 0}
    assert second == {"events": 22, "recorded": 0, "duplicates": 20, "deadLettered": 2, "pending": 0}


def test_replay_reads_event_hubs_capture_avro_files(tmp_path):
    path = tmp_path / "capture.avro"
    write_capture_avro(path, [encode(capture_event(call_id=f"avro-{i}")) for i in range(4)])
    result = run_devhost(["replay", str(path), "--json"], devhost_env(tmp_path))
    assert json.loads(result.stdout.strip().splitlines()[-1])["recorded"] == 4


def test_replay_reports_each_unreadable_file_and_the_cut_of_a_capture_file_and_replays_the_rest(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(encode(capture_event(call_id=f"line-{i}")) for i in range(3)) + b"\n")
    whole = tmp_path / "whole.avro"
    write_capture_avro(
        whole,
        [encode(capture_event(call_id=f"avro-{i}", response=chat_response(text="words " * 400))) for i in range(40)],
    )
    cut = tmp_path / "cut.avro"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    not_avro = tmp_path / "notes.avro"
    not_avro.write_bytes(b"these are notes, not a capture file\n")
    result = run_devhost(["replay", str(cut), str(not_avro), str(lines), "--json"], devhost_env(tmp_path))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    problems = [line for line in result.stderr.splitlines() if line.startswith("devhost: ")]
    assert result.returncode == 1 and report["unreadable"] == 2 and len(problems) == 2, result.stderr
    assert problems[0].startswith(f"devhost: {cut}: cut at byte {cut.stat().st_size:,}, inside the block at byte ")
    assert problems[1].startswith(f"devhost: {not_avro}: not an Avro container file")
    assert 3 + 20 <= report["recorded"] < 3 + 40 and report["recorded"] == report["events"]


def test_replay_of_a_file_that_is_not_there_replays_nothing_and_says_so(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(encode(capture_event(call_id="line-1")) + b"\n")
    missing = tmp_path / "missing.jsonl"
    result = run_devhost(["replay", str(lines), str(missing)], devhost_env(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith(f"devhost replay: {missing}: no such file")
    assert not (tmp_path / "ledger.db").exists()


def test_replay_reports_a_batch_the_function_fails_on_and_goes_on_with_the_next(tmp_path):
    env = devhost_env(tmp_path)
    SqlStore.from_url(env["LEDGER_SQL_URL"]).dispose()
    with sqlite3.connect(
        tmp_path / "ledger.db"
    ) as db:  # the store refuses every insert of a call, as a broken one would
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON calls BEGIN SELECT no_such_function(); END")
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b"garbage 1",
                b"garbage 2",
                encode(capture_event(call_id="good-1")),
                encode(capture_event(call_id="good-2")),
                b"garbage 3",
            ]
        )
        + b"\n"
    )
    result = run_devhost(["replay", str(path), "--json", "--batch-size", "2"], env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1
    assert report == {"events": 3, "recorded": 0, "duplicates": 0, "deadLettered": 3, "pending": 0, "failedEvents": 2}
    assert "devhost: events 3 to 4 failed as a batch (OperationalError: " in result.stderr


def test_local_settings_json_values_apply_but_the_environment_wins(tmp_path):
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"LEDGER_AUTH": "dev", "LEDGER_SQL_URL": "sqlite:///from-file.db"}})
    )
    env = devhost_env(tmp_path)
    env.pop("LEDGER_AUTH")
    env["PYTHONPATH"] = str(ROOT)
    code = "from devhost.functions import load_local_settings as l; import os; l(); print(os.environ['LEDGER_AUTH'], os.environ['LEDGER_SQL_URL'])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["dev", env["LEDGER_SQL_URL"]]


def test_ncrontab_schedules_fire_when_azure_functions_would():
    every_five = Schedule("0 */5 * * * *")
    assert every_five.next_after(datetime(2026, 11, 27, 9, 3, 7)) == datetime(2026, 11, 27, 9, 5, 0)
    hourly_at_15 = Schedule("0 15 * * * *")
    assert hourly_at_15.next_after(datetime(2026, 11, 27, 9, 15, 0)) == datetime(2026, 11, 27, 10, 15, 0)
    weekdays_at_8 = Schedule("0 0 8 * * 1-5")
    assert weekdays_at_8.next_after(datetime(2026, 11, 27, 9, 0, 0)) == datetime(2026, 11, 30, 8, 0, 0)  # Fri -> Mon


def test_timer_schedules_fall_back_to_the_documented_defaults_without_local_settings(monkeypatch):
    from devhost.functions import resolve

    monkeypatch.delenv("QUOTA_CHECK_SCHEDULE", raising=False)
    assert resolve("%QUOTA_CHECK_SCHEDULE%") == "0 */5 * * * *"
    monkeypatch.setenv("QUOTA_CHECK_SCHEDULE", "0 0 * * * *")
    assert resolve("%QUOTA_CHECK_SCHEDULE%") == "0 0 * * * *"
