"""Non-streamed bodies of every operation, read from realistic fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.ingest.payloads import parse_payloads

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_chat_tool_calls_usage_from_string_numbers_and_cached_tokens():
    facts = parse_payloads(
        "chat.completions", body("chat_tools_request.json"), body("chat_tools_response.json"), "application/json"
    )
    assert facts.request_model == "gpt-4o"
    assert facts.response_model == "gpt-4o-2024-11-20"
    assert facts.finish_reason == "tool_calls"
    assert [c["function"]["arguments"] for c in facts.tool_calls] == [
        '{"city":"Paris","unit":"c"}',
        '{"city":"Lisbon","unit":"c"}',
    ]
    usage = facts.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (98, 52, 150)
    assert usage.cached_tokens == 64 and usage.reasoning_tokens == 0 and not usage.estimated
    assert facts.completion_text is None


def test_chat_params_drop_messages_and_keep_tool_names():
    facts = parse_payloads("chat.completions", body("chat_tools_request.json"), body("chat_tools_response.json"))
    assert "messages" not in facts.params
    assert facts.params["tools"] == ["get_weather"]
    assert facts.params["temperature"] == 0.2 and facts.params["max_tokens"] == 400
    assert facts.params["tool_choice"] == "auto" and facts.params["user"] == "ana@contoso.com"
    assert (
        facts.prompt_text
        == "You are a travel assistant for Contoso.\nWhat is the weather in Paris and in Lisbon today?"
    )


def test_chat_content_filter_finish_reason_marks_call_filtered_and_keeps_verdicts():
    facts = parse_payloads("chat.completions", body("chat_filter_request.json"), body("chat_filter_response.json"))
    assert facts.content_filtered is True
    assert facts.finish_reason == "content_filter"
    assert facts.content_filter["prompt"][0]["prompt_index"] == 0
    assert facts.content_filter["completion"][0]["content_filter_results"]["violence"] == {
        "filtered": True,
        "severity": "medium",
    }
    assert facts.completion_text == "The knights circled each other in the courtyard"


def test_chat_message_content_parts_become_text_with_image_placeholder():
    request = (
        b'{"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},'
        b'{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},'
        b'{"role":"assistant","content":null,"tool_calls":[]}]}'
    )
    facts = parse_payloads("chat.completions", request, None)
    assert facts.prompt_text == "What is this?\n[image]"


def test_400_content_filter_error_is_filtered_with_prompt_verdicts_and_no_estimate():
    facts = parse_payloads("chat.completions", body("chat_filter_request.json"), body("error_400_content_filter.json"))
    assert facts.error_code == "content_filter"
    assert facts.error_message.startswith("The response was filtered")
    assert facts.content_filtered is True
    assert facts.content_filter["prompt"][0]["content_filter_results"]["jailbreak"]["filtered"] is True
    assert facts.usage is None


@pytest.mark.parametrize("name, code", [("error_429.json", "429"), ("error_429_apim.json", "429")])
def test_rate_limit_bodies_give_code_and_message(name, code):
    facts = parse_payloads("chat.completions", body("chat_tools_request.json"), body(name))
    assert facts.error_code == code
    assert "exceeded" in facts.error_message.lower()
    assert facts.usage is None


def test_legacy_completions_text_and_prompt_list():
    facts = parse_payloads("completions", body("completions_request.json"), body("completions_response.json"))
    assert facts.prompt_text == "Translate to French: good morning"
    assert facts.completion_text == " Bonjour"
    assert facts.usage.total_tokens == 9 and facts.finish_reason == "stop"
    assert facts.response_model == "gpt-35-turbo-instruct"


def test_embeddings_string_input_is_prompt_text_and_has_no_completion_tokens():
    facts = parse_payloads(
        "embeddings", body("embeddings_string_request.json"), body("embeddings_string_response.json")
    )
    assert facts.prompt_text == "The ledger keeps every Azure OpenAI call."
    assert facts.params == {"model": "text-embedding-3-small", "dimensions": 256, "encoding_format": "float"}
    assert (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.total_tokens) == (10, 0, 10)


def test_embeddings_token_id_input_has_no_text_and_counts_ids_when_usage_is_absent():
    facts = parse_payloads(
        "embeddings", body("embeddings_tokens_request.json"), body("embeddings_tokens_response.json")
    )
    assert facts.prompt_text is None and facts.usage.prompt_tokens == 6 and not facts.usage.estimated
    facts = parse_payloads("embeddings", body("embeddings_tokens_request.json"), None)
    assert facts.usage.prompt_tokens == 6 and facts.usage.estimated


def test_dalle3_counts_images_and_keeps_per_image_filter_results():
    facts = parse_payloads(
        "images.generations", body("images_dalle3_request.json"), body("images_dalle3_response.json")
    )
    assert facts.prompt_text == "A watercolor lighthouse at dawn"
    assert facts.usage.images == 1 and facts.usage.total_tokens == 0 and not facts.usage.estimated
    assert facts.params["size"] == "1024x1024" and facts.params["quality"] == "hd"
    assert facts.content_filter["prompt"][0]["content_filter_results"]["jailbreak"]["detected"] is False
    assert facts.content_filter["completion"][0]["index"] == 0
    assert facts.completion_text.startswith("A soft watercolor")


def test_gpt_image_1_uses_input_and_output_tokens():
    facts = parse_payloads(
        "images.generations", body("images_gptimage1_request.json"), body("images_gptimage1_response.json")
    )
    usage = facts.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.images) == (14, 2112, 2126, 2)


def test_whisper_verbose_json_duration_becomes_audio_seconds_from_multipart_request():
    facts = parse_payloads(
        "audio.transcriptions", body("whisper_multipart_request.txt"), body("whisper_verbose_response.json")
    )
    assert facts.request_model == "whisper-1"
    assert facts.params["response_format"] == "verbose_json"
    assert facts.prompt_text == "Contoso, Fabrikam"
    assert facts.usage.audio_seconds == pytest.approx(12.48) and facts.usage.total_tokens == 0
    assert facts.completion_text.startswith("Thanks for calling")


@pytest.mark.parametrize("name", ["whisper_text_response.txt", "whisper_srt_response.srt"])
def test_whisper_plain_text_formats_are_the_completion_text(name):
    facts = parse_payloads("audio.translations", None, body(name), "text/plain")
    assert "Contoso support" in facts.completion_text
    assert facts.usage.estimated and facts.usage.completion_tokens > 0


def test_gpt4o_transcribe_token_usage():
    facts = parse_payloads("audio.transcriptions", None, body("transcribe_gpt4o_response.json"))
    assert (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.total_tokens) == (161, 11, 172)
    assert facts.usage.audio_seconds is None


def test_transcription_duration_usage_gives_audio_seconds():
    facts = parse_payloads("audio.transcriptions", None, body("transcribe_duration_response.json"))
    assert facts.usage.audio_seconds == 3.0 and not facts.usage.estimated


def test_speech_input_is_prompt_and_binary_response_gives_no_completion():
    audio = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90d" + bytes(range(256))
    facts = parse_payloads("audio.speech", body("speech_request.json"), audio, "audio/mpeg")
    assert facts.prompt_text == "Your order has shipped and will arrive on Friday."
    assert facts.params["voice"] == "alloy"
    assert facts.completion_text is None
    assert facts.usage.estimated and facts.usage.prompt_tokens > 0 and facts.usage.completion_tokens == 0


def test_responses_json_text_instructions_and_usage_details():
    facts = parse_payloads("responses", body("responses_request.json"), body("responses_completed.json"))
    assert facts.prompt_text == "Answer in one sentence.\nWhy is the sky blue?\n[image]"
    assert facts.completion_text.startswith("Sunlight scatters")
    assert facts.finish_reason == "completed"
    usage = facts.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cached_tokens) == (120, 18, 138, 64)
    assert "input" not in facts.params and "instructions" not in facts.params
    assert facts.params["max_output_tokens"] == 200


def test_responses_function_call_and_reasoning_tokens():
    facts = parse_payloads("responses", None, body("responses_reasoning_tools.json"))
    assert facts.tool_calls == [
        {"id": "call_9x", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order":"A-17"}'}}
    ]
    assert facts.usage.reasoning_tokens == 192


def test_responses_failed_gives_error_and_incomplete_gives_reason():
    failed = parse_payloads("responses", body("responses_request.json"), body("responses_failed.json"))
    assert failed.error_code == "server_error" and failed.finish_reason == "failed" and failed.usage is None
    incomplete = parse_payloads("responses", None, body("responses_incomplete.json"))
    assert incomplete.finish_reason == "max_output_tokens" and incomplete.usage.total_tokens == 56


def test_assistants_terminal_run_carries_usage():
    facts = parse_payloads("assistants", b'{"assistant_id":"asst_abc"}', body("assistants_run_completed.json"))
    assert (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.total_tokens) == (345, 87, 432)
    assert facts.finish_reason == "completed" and facts.response_model == "gpt-4o"


def test_assistants_run_list_and_running_run_count_nothing():
    assert parse_payloads("assistants", None, body("assistants_run_list.json")).usage is None
    assert parse_payloads("assistants", None, body("assistants_run_in_progress.json")).usage is None


def test_assistants_message_text_is_never_estimated():
    facts = parse_payloads(
        "assistants", b'{"role":"user","content":"What is my invoice total?"}', body("assistants_message.json")
    )
    assert facts.prompt_text == "What is my invoice total?"
    assert facts.completion_text == "Your invoice total is 42 EUR."
    assert facts.usage is None


def test_model_prefers_response_but_request_model_is_kept():
    facts = parse_payloads("chat.completions", b'{"model":"gpt-4o","messages":[]}', b'{"model":"","choices":[]}')
    assert facts.request_model == "gpt-4o" and facts.response_model is None


def test_missing_usage_with_text_is_estimated_with_chat_framing():
    request = b'{"messages":[{"role":"user","content":"hello"}]}'
    response = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}'
    facts = parse_payloads("chat.completions", request, response, deployment="gpt-4o")
    # 3 framing + "user" (1) + "hello" (1) + 3 reply priming; completion "hello" = 1
    assert (facts.usage.prompt_tokens, facts.usage.completion_tokens) == (8, 1)
    assert facts.usage.total_tokens == 9 and facts.usage.estimated


def test_nothing_captured_means_usage_none():
    assert parse_payloads("chat.completions", None, None).usage is None
    assert parse_payloads("other", b"", b"").usage is None
