"""Streamed bodies: Azure chat streams, legacy completions, Responses events, Assistants and audio streams.

Chat streams are also checked against the official `openai` package's own accumulator
(`ChatCompletionStreamState`), an implementation independent of ours.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from shared.ingest.payloads import parse_payloads

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"
SSE = "text/event-stream"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def chat(stream_name: str, request: bytes | None = None, content_type: str | None = SSE):
    return parse_payloads(
        "chat.completions",
        request if request is not None else body("chat_stream_request.json"),
        body(stream_name),
        content_type,
    )


def oracle(stream_name: str):
    """Accumulate the fixture with openai-python, feeding it what its own Stream would (chat chunks only)."""
    state = ChatCompletionStreamState()
    for line in body(stream_name).decode().split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            chunk = orjson.loads(line[6:])
            if chunk.get("object") == "chat.completion.chunk":
                state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.current_completion_snapshot


@pytest.mark.parametrize(
    "name",
    [
        "chat_stream_azure.sse",
        "chat_stream_usage.sse",
        "chat_stream_no_usage.sse",
        "chat_stream_n2.sse",
        "chat_stream_tool_calls.sse",
        "chat_stream_late_filter.sse",
        "chat_stream_interrupted.sse",
        "chat_stream_filtered.sse",
    ],
)
def test_chat_stream_matches_openai_accumulator(name):
    facts = chat(name)
    expected = oracle(name)
    first = expected.choices[0]
    assert facts.completion_text == (first.message.content or None)
    assert facts.finish_reason == first.finish_reason
    ours = [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in facts.tool_calls or []]
    theirs = [(c.id, c.function.name, c.function.arguments) for c in first.message.tool_calls or []]
    assert ours == theirs
    if expected.usage is not None:
        assert (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.total_tokens) == (
            expected.usage.prompt_tokens,
            expected.usage.completion_tokens,
            expected.usage.total_tokens,
        )
        assert not facts.usage.estimated


def test_azure_first_chunk_with_empty_choices_gives_prompt_filter_results_not_usage():
    facts = chat("chat_stream_azure.sse")
    assert facts.content_filter["prompt"][0]["content_filter_results"]["jailbreak"] == {
        "filtered": False,
        "detected": False,
    }
    assert facts.response_model == "gpt-4o-2024-11-20"
    assert facts.completion_text == "The ledger records every call, streamed or not."
    assert facts.streamed and facts.stream_complete


def test_usage_chunk_with_empty_choices_gives_reported_usage():
    facts = chat("chat_stream_usage.sse")
    assert (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.total_tokens) == (21, 10, 31)
    assert not facts.usage.estimated


def test_stream_without_usage_chunk_is_estimated_not_zero():
    facts = chat("chat_stream_no_usage.sse")
    assert facts.usage.estimated
    assert facts.usage.prompt_tokens > 0 and facts.usage.completion_tokens == 10
    assert facts.usage.total_tokens == facts.usage.prompt_tokens + facts.usage.completion_tokens


def test_stream_body_without_request_still_estimates_completion():
    facts = parse_payloads("chat.completions", None, body("chat_stream_no_usage.sse"), SSE)
    assert facts.usage.estimated and facts.usage.completion_tokens > 0 and facts.usage.prompt_tokens == 0


def test_interrupted_stream_without_done_keeps_what_arrived_and_is_incomplete():
    facts = chat("chat_stream_interrupted.sse")
    assert facts.stream_complete is False
    assert facts.completion_text == "The ledger records every call"
    assert facts.finish_reason is None
    assert facts.usage.estimated and facts.usage.completion_tokens > 0


def test_n2_stream_choice_zero_is_the_completion_and_both_are_estimated_when_needed():
    facts = chat("chat_stream_n2.sse")
    assert facts.completion_text == "Yes, it does."
    assert facts.usage.total_tokens == 20
    no_usage = body("chat_stream_n2.sse").decode().rsplit("data: {", 1)[0] + "data: [DONE]\n\n"
    estimated = parse_payloads("chat.completions", None, no_usage, SSE)
    only_first = parse_payloads(
        "chat.completions",
        None,
        "data: "
        + orjson.dumps({"choices": [{"index": 0, "delta": {"content": "Yes, it does."}}]}).decode()
        + "\n\ndata: [DONE]\n\n",
        SSE,
    )
    assert estimated.usage.completion_tokens > only_first.usage.completion_tokens


def test_tool_call_fragments_are_joined_by_index():
    facts = chat("chat_stream_tool_calls.sse", body("chat_tools_request.json"))
    assert facts.finish_reason == "tool_calls"
    assert facts.tool_calls == [
        {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_w2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'}},
    ]
    assert facts.completion_text is None


def test_tool_call_stream_without_usage_counts_arguments_as_completion():
    text = body("chat_stream_tool_calls.sse").decode()
    without_usage = text.rsplit("data: {", 1)[0] + "data: [DONE]\n\n"
    facts = parse_payloads("chat.completions", body("chat_tools_request.json"), without_usage, SSE)
    assert facts.usage.estimated and facts.usage.completion_tokens >= 10


def test_late_content_filter_chunks_are_merged_per_choice_most_severe_first():
    facts = chat("chat_stream_late_filter.sse")
    merged = facts.content_filter["completion"][0]["content_filter_results"]
    assert merged["violence"] == {"filtered": False, "severity": "low"}
    assert merged["protected_material_text"] == {"filtered": False, "detected": False}
    assert facts.content_filtered is False
    assert facts.completion_text == "The ledger records every call, streamed or not."


def test_filtered_stream_is_content_filtered():
    facts = chat("chat_stream_filtered.sse")
    assert facts.content_filtered and facts.finish_reason == "content_filter"
    assert facts.content_filter["completion"][0]["content_filter_results"]["violence"]["severity"] == "high"


def test_stream_is_detected_from_body_without_content_type():
    facts = chat("chat_stream_usage.sse", content_type=None)
    assert facts.streamed and facts.usage.total_tokens == 31


def test_stream_with_crlf_line_endings_reassembles():
    facts = parse_payloads("chat.completions", None, body("chat_stream_usage.sse").replace(b"\n", b"\r\n"), SSE)
    assert facts.completion_text == "The ledger records every call, streamed or not."
    assert facts.stream_complete


def test_legacy_completions_stream():
    facts = parse_payloads("completions", body("completions_request.json"), body("completions_stream.sse"), SSE)
    assert facts.completion_text == " Bonjour à tous"
    assert facts.finish_reason == "stop" and facts.stream_complete
    assert facts.response_model == "gpt-35-turbo-instruct"
    assert facts.usage.estimated and facts.usage.completion_tokens > 0


def test_responses_stream_completed_takes_usage_from_terminal_event():
    facts = parse_payloads("responses", body("responses_request.json"), body("responses_stream_completed.sse"), SSE)
    assert facts.completion_text == "Sunlight scatters off air molecules, and blue light scatters most."
    assert facts.usage.total_tokens == 39 and not facts.usage.estimated
    assert facts.stream_complete and facts.finish_reason == "completed"


def test_responses_stream_failed_is_terminal_with_error():
    facts = parse_payloads("responses", None, body("responses_stream_failed.sse"), SSE)
    assert facts.stream_complete and facts.finish_reason == "failed"
    assert facts.error_code == "server_error"


def test_responses_stream_incomplete_for_content_filter():
    facts = parse_payloads("responses", None, body("responses_stream_incomplete.sse"), SSE)
    assert facts.stream_complete and facts.finish_reason == "content_filter" and facts.content_filtered
    assert facts.usage.total_tokens == 30


def test_responses_stream_cut_keeps_deltas_and_estimates():
    facts = parse_payloads("responses", body("responses_request.json"), body("responses_stream_cut.sse"), SSE)
    assert facts.stream_complete is False
    assert facts.completion_text == "Sunlight scatters off air molecules,"
    assert facts.usage.estimated and facts.usage.prompt_tokens > 0 and facts.usage.completion_tokens > 0


def test_assistants_run_stream_takes_usage_of_completed_run():
    facts = parse_payloads("assistants", None, body("assistants_run_stream.sse"), SSE)
    assert facts.usage.total_tokens == 53 and facts.stream_complete
    assert facts.completion_text == "Hi there" and facts.finish_reason == "completed"


def test_transcription_stream_text_and_usage():
    facts = parse_payloads("audio.transcriptions", None, body("transcribe_stream.sse"), SSE)
    assert facts.completion_text == "Please move my appointment."
    assert facts.usage.total_tokens == 87 and facts.stream_complete


def test_error_json_with_event_stream_content_type_is_read_as_json():
    facts = parse_payloads("chat.completions", body("chat_stream_request.json"), body("error_429.json"), SSE)
    assert facts.error_code == "429" and facts.usage is None
