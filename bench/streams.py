"""Streamed events per second through the real `ingest` function, beside non-streamed events in the same run.

Both kinds are capture/v1 chat completions with the same prompt; the streamed ones carry a 200-chunk SSE
response body (Azure's prompt-filter chunk, 198 content deltas, the finish chunk, the usage chunk, [DONE]);
the plain ones the equivalent JSON body. Each kind goes into its own SQLite file, in batches, on one core.
Prints events/s for both and the ratio (streamed / plain); a third line shows streams without a usage
chunk, whose tokens are estimated with the tokenizer.

    python bench/streams.py [--events 5000] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import orjson
from harness import bench_workdir, ingest_function  # bench/ is on sys.path when run

WORDS = (
    "the ledger records every call with its caller model tokens and cost so that chargeback is exact "
    "and nothing streamed is ever counted as zero"
).split()
REQUEST = {
    "model": "gpt-4o",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Explain what the usage ledger does, in detail."},
    ],
}


def _sse(index: int, chunks: int, usage: bool) -> str:
    base = {
        "id": f"chatcmpl-{index}",
        "object": "chat.completion.chunk",
        "created": 1764234000,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_1",
    }
    lines = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [
                {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
            ],
        }
    ]
    for n in range(chunks - 3):
        delta = {"role": "assistant", "content": ""} if n == 0 else {"content": WORDS[n % len(WORDS)] + " "}
        lines.append(
            base
            | {
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "finish_reason": None,
                        "logprobs": None,
                        "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
                    }
                ],
                "usage": None,
            }
        )
    lines.append(
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}], "usage": None}
    )
    if usage:
        lines.append(
            base
            | {
                "choices": [],
                "usage": {"prompt_tokens": 31, "completion_tokens": chunks - 4, "total_tokens": 31 + chunks - 4},
            }
        )
    return "".join("data: " + orjson.dumps(line).decode() + "\n\n" for line in lines) + "data: [DONE]\n\n"


def _plain_body(index: int, chunks: int) -> str:
    text = "".join(WORDS[n % len(WORDS)] + " " for n in range(1, chunks - 3))
    return orjson.dumps(
        {
            "id": f"chatcmpl-{index}",
            "object": "chat.completion",
            "created": 1764234000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 31, "completion_tokens": chunks - 4, "total_tokens": 31 + chunks - 4},
        }
    ).decode()


def _events(kind: str, count: int, chunks: int) -> list[bytes]:
    from tests.builders import capture_event

    events = []
    for i in range(count):
        if kind == "plain":
            event = capture_event(
                call_id=f"{kind}-{i}", request=dict(REQUEST, stream=False), response=_plain_body(i, chunks)
            )
        else:
            event = capture_event(
                call_id=f"{kind}-{i}",
                request=REQUEST,
                response=_sse(i, chunks, usage=kind == "stream"),
                content_type="text/event-stream",
            )
        events.append(orjson.dumps(event))
    return events


def _run(kind: str, count: int, chunks: int, batch_size: int, workdir: Path) -> tuple[float, float]:
    import azure.functions as func

    from shared.app.wiring import app_context, reset_app_context

    reset_app_context()
    os.environ["LEDGER_SQL_URL"] = f"sqlite:///{workdir / (kind + '.db')}"
    ingest = ingest_function()
    events = _events(kind, count, chunks)
    ingest([func.EventHubEvent(body=_events(kind, 1, chunks)[0].replace(b'"' + kind.encode() + b'-0"', b'"warm-up"'))])
    started = time.perf_counter()
    for offset in range(0, len(events), batch_size):
        ingest(
            [
                func.EventHubEvent(body=body, sequence_number=offset + j)
                for j, body in enumerate(events[offset : offset + batch_size])
            ]
        )
    elapsed = time.perf_counter() - started
    app_context()  # keep the context alive until measured
    return count / elapsed, sum(map(len, events)) / count / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args(argv)
    workdir = bench_workdir("ledger-bench-streams-")  # each kind then gets its own database in it
    from shared.ingest.tokens import preload

    preload("gpt-4o")
    plain, plain_kb = _run("plain", args.events, args.chunks, args.batch_size, workdir)
    stream, stream_kb = _run("stream", args.events, args.chunks, args.batch_size, workdir)
    estimated, _ = _run("stream-no-usage", args.events, args.chunks, args.batch_size, workdir)
    print(f"streams: {args.events:,} events per kind, batches of {args.batch_size}, SQLite WAL, one core")
    print(f"  non-streamed (JSON body, {plain_kb:.1f} KB/event):         {plain:>8,.0f} events/s")
    print(f"  streamed ({args.chunks}-chunk SSE with usage, {stream_kb:.1f} KB/event): {stream:>8,.0f} events/s")
    print(f"  streamed, no usage chunk (tokens estimated):        {estimated:>8,.0f} events/s")
    print(f"  ratio streamed/non-streamed: {stream / plain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
