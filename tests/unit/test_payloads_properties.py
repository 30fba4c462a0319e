"""Properties: a stream's split into chunks never changes what it reassembles to, and no input raises."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from shared.ingest.payloads import parse_payloads
from shared.store.records import OPERATIONS

SSE = "text/event-stream"
PROMPT_FILTER_CHUNK = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
}
USAGE = {
    "prompt_tokens": 17,
    "completion_tokens": 9,
    "total_tokens": 26,
    "completion_tokens_details": {"reasoning_tokens": 3},
}


def split(text: str, cuts: list[int]) -> list[str]:
    """`text` cut at the given positions (any order, repeats allowed: empty deltas are legal too)."""
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    pieces = [text[a:b] for a, b in itertools.pairwise(points)]
    return pieces or [""]


def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
    return {
        "id": "chatcmpl-p",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }


def stream(chunks: list[dict], done: bool = True) -> str:
    lines = ["data: " + orjson.dumps(c).decode() + "\n\n" for c in chunks]
    return "".join(lines) + ("data: [DONE]\n\n" if done else "")


def content_stream(text: str, cuts: list[int], with_usage: bool) -> list[dict]:
    chunks = [PROMPT_FILTER_CHUNK, chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in split(text, cuts)]
    chunks.append(chunk({}, "stop"))
    if with_usage:
        chunks.append({**chunk({}), "choices": [], "usage": USAGE})
    return chunks


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
cut_lists = st.lists(st.integers(min_value=0, max_value=400), max_size=40)


@settings(max_examples=200, deadline=None)
@given(text=texts, cuts_a=cut_lists, cuts_b=cut_lists, with_usage=st.booleans())
def test_any_split_of_a_completion_reassembles_to_the_same_text_and_usage(text, cuts_a, cuts_b, with_usage):
    first = parse_payloads(
        "chat.completions", None, stream(content_stream(text, cuts_a, with_usage)), SSE, deployment="gpt-4o-mini"
    )
    second = parse_payloads(
        "chat.completions", None, stream(content_stream(text, cuts_b, with_usage)), SSE, deployment="gpt-4o-mini"
    )
    assert first.completion_text == second.completion_text == (text or None)
    assert first.usage == second.usage
    if with_usage:
        assert (first.usage.total_tokens, first.usage.reasoning_tokens, first.usage.estimated) == (26, 3, False)
    elif text.strip():
        assert first.usage.estimated and first.usage.completion_tokens > 0


@settings(max_examples=100, deadline=None)
@given(text=texts, cuts=cut_lists, with_usage=st.booleans())
def test_any_split_matches_the_openai_accumulator(text, cuts, with_usage):
    chunks = content_stream(text, cuts, with_usage)
    state = ChatCompletionStreamState()
    for raw in chunks:
        if raw["object"] == "chat.completion.chunk":
            state.handle_chunk(ChatCompletionChunk.model_validate(raw))
    expected = state.current_completion_snapshot
    facts = parse_payloads("chat.completions", None, stream(chunks), SSE)
    assert facts.completion_text == (expected.choices[0].message.content or None)
    if with_usage:
        assert facts.usage.total_tokens == expected.usage.total_tokens


arguments = st.dictionaries(
    st.text(max_size=8), st.one_of(st.integers(min_value=-(10**9), max_value=10**9), st.text(max_size=20)), max_size=4
).map(lambda value: orjson.dumps(value).decode())


@settings(max_examples=150, deadline=None)
@given(args_a=arguments, args_b=arguments, cuts_a=cut_lists, cuts_b=cut_lists)
def test_tool_call_argument_fragments_in_any_split_give_the_same_arguments(args_a, args_b, cuts_a, cuts_b):
    chunks = [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, "id": "call_a", "type": "function", "function": {"name": "first", "arguments": ""}}
                ],
            }
        )
    ]
    chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in split(args_a, cuts_a)]
    chunks.append(
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "second", "arguments": ""}}
                ]
            }
        )
    )
    chunks += [chunk({"tool_calls": [{"index": 1, "function": {"arguments": p}}]}) for p in split(args_b, cuts_b)]
    chunks.append(chunk({}, "tool_calls"))
    facts = parse_payloads("chat.completions", None, stream(chunks), SSE)
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in facts.tool_calls] == [
        ("call_a", "first", args_a),
        ("call_b", "second", args_b),
    ]
    assert facts.usage.estimated and facts.usage.completion_tokens > 0


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "model",
                    "choices",
                    "usage",
                    "delta",
                    "content",
                    "messages",
                    "input",
                    "error",
                    "data",
                    "prompt_tokens",
                    "index",
                    "tool_calls",
                    "function",
                    "arguments",
                    "output",
                    "type",
                    "response",
                    "object",
                    "text",
                    "duration",
                    "prompt_filter_results",
                    "statusCode",
                    "content_filter_results",
                    "innererror",
                    "code",
                    "status",
                    "filtered",
                    "role",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operation=st.sampled_from((*OPERATIONS, "", "ChatCompletions_Create")),
    request=json_values,
    response=json_values,
    as_stream=st.booleans(),
    raw=st.binary(max_size=64),
)
def test_no_input_makes_parse_payloads_raise(operation, request, response, as_stream, raw):
    request_body = orjson.dumps(request)
    response_body = orjson.dumps(response)
    if as_stream:
        response_body = b"data: " + response_body + b"\n\ndata: " + raw + b"\n\n"
    for req, resp in (
        (request_body, response_body),
        (raw, raw),
        (request_body[: len(request_body) // 2], raw),
        (None, response_body[: len(response_body) // 2]),
    ):
        facts = parse_payloads(operation, req, resp, SSE if as_stream else "application/json", "gpt-4o")
        assert facts is not None


def test_wrong_types_are_tolerated():
    for weird in (123, 4.5, ["x"], {"choices": "nope"}, object(), True):
        facts = parse_payloads("chat.completions", weird, weird, weird, weird)  # type: ignore[arg-type]  # any JSON value, on purpose
        assert facts.usage is None or facts.usage.total_tokens >= 0
    assert parse_payloads(None, None, None).usage is None  # type: ignore[arg-type]  # no operation, on purpose


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=5000))
def test_a_stream_cut_anywhere_never_raises_and_keeps_a_prefix(cut):
    text = stream(content_stream("The ledger records every call, streamed or not.", [3, 10, 20, 33], True))
    facts = parse_payloads("chat.completions", None, text[:cut], SSE)
    assert "The ledger records every call, streamed or not.".startswith(facts.completion_text or "")
