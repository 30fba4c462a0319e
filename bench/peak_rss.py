"""Peak RSS of ingesting one batch of 1,000 capture events with 150 KB bodies (target <= 300 MB).

Prints the RSS after imports and warm-up (baseline), the peak RSS during the batch (the batch's bytes
included, as the Functions host holds them too), and the difference. Linux `ru_maxrss`, one process.

    python bench/peak_rss.py [--events 1000] [--body-kb 150]
"""

from __future__ import annotations

import argparse
import resource
import sys

import orjson
from harness import bench_workdir, ingest_function  # bench/ is on sys.path when run


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--body-kb", type=int, default=150)
    args = parser.parse_args(argv)
    bench_workdir("ledger-bench-rss-")
    import azure.functions as func

    from tests.builders import capture_event, chat_response

    ingest = ingest_function()
    ingest([func.EventHubEvent(body=orjson.dumps(capture_event(call_id="warm-up")))])
    baseline = _rss_mb()
    sentence = "Employees book economy class for flights under six hours; hotels above the cap need approval. "
    text = (sentence * (args.body_kb * 1024 // len(sentence) + 1))[: args.body_kb * 1024]
    batch = [
        func.EventHubEvent(
            body=orjson.dumps(capture_event(call_id=f"rss-{i}", response=chat_response(text=text[i % 97 :] + str(i)))),
            sequence_number=i,
        )
        for i in range(args.events)
    ]
    input_mb = sum(len(e.get_body()) for e in batch) / 2**20
    before = _rss_mb()
    ingest(batch)
    peak = _peak_mb()
    print(
        f"peak RSS: one batch of {args.events:,} capture events with {args.body_kb} KB bodies ({input_mb:.0f} MB of events), SQLite"
    )
    print(f"  RSS after imports and warm-up (baseline): {baseline:>6.0f} MB")
    print(f"  RSS with the batch in memory:             {before:>6.0f} MB")
    print(f"  peak RSS while ingesting:                 {peak:>6.0f} MB  (target <= 300 MB)")
    print(f"  ingest's own peak above the batch:        {peak - before:>6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
