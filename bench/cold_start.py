"""Cold start: `python -c "import function_app"` beside a bare interpreter start, median of several runs.

Azure SDK imports stay lazy so this stays small; the target is <= 300 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(code: str, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> int:
    bare = _median_ms("pass")
    app = _median_ms("import function_app")
    print("cold start (median of 7):")
    print(f"  python -c 'import function_app': {app:6.0f} ms   (target <= 300 ms)")
    print(
        f"  python -c 'pass' (floor):        {bare:6.0f} ms   ratio {app / bare:.1f}x, import cost {app - bare:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
