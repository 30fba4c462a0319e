"""checkov finds nothing in infra/ beyond the accepted findings of infra/checkov-baseline.txt.

checkov (its Bicep framework) runs from its own venv, `.venv-tools`, which `make test` creates from
requirements-tools.txt. A new finding fails, a file checkov cannot parse fails (it would go unscanned), and
so does a baseline line that checkov no longer reports, so the baseline only ever lists live findings.
"""

from __future__ import annotations

import json
import subprocess
from functools import lru_cache
from typing import NamedTuple

import pytest

from tests.bicep import INFRA, ROOT

# One checkov run serves every test here: keep them on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("checkov")

CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
BASELINE = INFRA / "checkov-baseline.txt"


class Finding(NamedTuple):
    check_id: str
    file: str  # relative to infra/
    resource: str


def read_baseline(text: str) -> dict[Finding, str]:
    """Accepted findings with their reasons; a line without a reason is an error."""
    accepted = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry, _, reason = line.partition("#")
        if not entry.strip():
            continue
        fields = entry.split()
        if len(fields) != 3 or not reason.strip():
            raise ValueError(f"checkov-baseline.txt:{number}: want 'CHECK_ID FILE RESOURCE  # reason', got {line!r}")
        accepted[Finding(*fields)] = reason.strip()
    return accepted


@lru_cache(maxsize=1)
def scan() -> dict:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools` (make test does)")
    # --skip-download: no calls to the vendor's platform (there is no network for it here, and none is needed).
    done = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    if done.returncode not in (0, 1):  # 1 means "found something"
        pytest.fail(f"checkov exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


def findings(report: dict) -> set[Finding]:
    return {
        Finding(item["check_id"], item["file_path"].lstrip("/"), item["resource"])
        for item in report.get("results", {}).get("failed_checks", [])
    }


def test_checkov_scans_every_bicep_file():
    report = scan()
    unparsed = report["results"].get("parsing_errors", [])
    assert not unparsed, f"checkov cannot parse (so does not scan) {unparsed}"
    assert report["summary"]["resource_count"] > 100 and report["summary"]["passed"] > 20


def test_checkov_finds_nothing_beyond_the_accepted_baseline():
    found = findings(scan())
    accepted = read_baseline(BASELINE.read_text())
    new = sorted(found - set(accepted))
    gone = sorted(set(accepted) - found)
    problems = [
        f"new finding: {' '.join(finding)} (fix it, or accept it in infra/checkov-baseline.txt with a reason)"
        for finding in new
    ]
    problems += [f"no longer found, remove from the baseline: {' '.join(finding)}" for finding in gone]
    assert not problems, "\n".join(problems)


def test_baseline_needs_a_reason_on_every_line():
    assert read_baseline("# comment\n\nCKV_AZURE_1 modules/a.bicep T.x  # accepted because\n") == {
        Finding("CKV_AZURE_1", "modules/a.bicep", "T.x"): "accepted because"
    }
    with pytest.raises(ValueError, match="reason"):
        read_baseline("CKV_AZURE_1 modules/a.bicep T.x\n")
