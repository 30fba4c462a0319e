"""`bench/ingest.py` as a person reruns it: a before/after against another checkout (here the last commit, as
`git archive` writes it), and the breakdown of where the time went, on a few events."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_before_after_run_against_another_checkout_prints_both_and_the_breakdown(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
    command = [sys.executable, "bench/ingest.py", "--events", "300", "--batch-size", "50", "--redact", "secrets"]
    command += ["--baseline", str(other), "--rounds", "1", "--breakdown"]

    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300).stdout

    for label in ("baseline, round 1:", "this tree, round 1:", "floor (orjson parse + executemany):"):
        assert re.search(rf"{re.escape(label)}\s+[\d,]+ events/s", output), output
    shares = re.findall(r"^ {4}(.+?):\s+([\d.]+) s\s+(\d+)%$", output, re.MULTILINE)  # the breakdown's lines
    starts = (
        "calls and their text",
        "rollups: hourly",
        "rollups: cumulative",
        "other statements",
        "commit",
        "the rest",
    )
    assert len(shares) == len(starts), output
    assert all(name.startswith(start) for (name, _, _), start in zip(shares, starts, strict=True)), output
    assert sum(float(seconds) for _, seconds, _ in shares[:-1]) > 0 and float(shares[-1][1]) > 0  # SQL, Python ran
    assert 95 <= sum(int(share) for _, _, share in shares) <= 105  # the parts make up the run
