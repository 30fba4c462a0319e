"""The working state of one parse: the facts so far plus what only the token estimate needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.ingest.payloads.content_filter import FilterCollector
from shared.store.records import PayloadFacts


@dataclass(slots=True)
class Draft:
    """Filled step by step, so a failure half way still leaves every fact read before it."""

    facts: PayloadFacts = field(default_factory=PayloadFacts)
    filters: FilterCollector = field(default_factory=FilterCollector)
    messages: list[Any] | None = None  # chat request messages, counted with their framing
    tools: list[Any] | None = None  # tool definitions, which the model also reads as prompt
    prompt_token_ids: int = 0  # embeddings sent as token ids: their count is their prompt tokens
    other_choices: list[str] = field(default_factory=list)  # texts of choices 1..n-1 (n > 1), billed too
    is_error: bool = False  # an error body: nothing was generated, nothing to estimate
    estimable: bool = True  # False for operations whose tokens are billed elsewhere (assistants messages)
