"""Azure content-filter annotations, gathered into one `{"prompt": [...], "completion": [...]}` value.

Azure annotates prompts (`prompt_filter_results`, per `prompt_index`) and each choice
(`content_filter_results`). Non-streamed bodies are kept as Azure sent them; a stream annotates every
chunk, so its annotations are merged per prompt/choice keeping the most severe verdict of each category,
which keeps the record small and still says what was flagged.
"""

from __future__ import annotations

from typing import Any

_SEVERITY = {"safe": 0, "low": 1, "medium": 2, "high": 3}


class FilterCollector:
    """Accumulates annotations of one call; `result()` gives the record value or None when there were none."""

    __slots__ = ("completion", "filtered", "prompt")

    def __init__(self) -> None:
        self.prompt: dict[int, dict[str, Any]] = {}
        self.completion: dict[int, dict[str, Any]] = {}
        self.filtered = False

    def add_prompt_results(self, results: Any) -> None:
        """Take `prompt_filter_results`: a list of {prompt_index, content_filter_results} (or one dict)."""
        if isinstance(results, dict):
            results = [results]
        if not isinstance(results, list):
            return
        for position, entry in enumerate(results):
            if not isinstance(entry, dict):
                continue
            index = entry.get("prompt_index", position)
            inner = entry.get("content_filter_results", entry)
            self._merge(self.prompt, index if isinstance(index, int) else position, inner)

    def add_completion_results(self, index: int, results: Any) -> None:
        """Take one choice's `content_filter_results`."""
        self._merge(self.completion, index, results)

    def _merge(self, target: dict[int, dict[str, Any]], index: int, results: Any) -> None:
        if not isinstance(results, dict) or not results:
            return
        current = target.get(index)
        if current == results:  # the common case in streams: every chunk says "safe" again
            return
        if is_filtered(results):
            self.filtered = True
        if current is None:
            target[index] = dict(results)
            return
        for category, verdict in results.items():
            current[category] = _worse(current.get(category), verdict)

    def result(self) -> dict[str, Any] | None:
        if not self.prompt and not self.completion:
            return None
        return {
            "prompt": [{"prompt_index": i, "content_filter_results": r} for i, r in sorted(self.prompt.items())],
            "completion": [{"index": i, "content_filter_results": r} for i, r in sorted(self.completion.items())],
        }


def is_filtered(results: Any) -> bool:
    """True when any category of one annotation says `filtered: true`."""
    if not isinstance(results, dict):
        return False
    return any(isinstance(verdict, dict) and verdict.get("filtered") is True for verdict in results.values())


def _worse(old: Any, new: Any) -> Any:
    """The more severe of two verdicts of one category (filtered, then detected, then severity)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new if new is not None else old
    if bool(new.get("filtered")) != bool(old.get("filtered")):
        return new if new.get("filtered") else old
    if bool(new.get("detected")) != bool(old.get("detected")):
        return new if new.get("detected") else old
    return new if _severity_rank(new) > _severity_rank(old) else old


def _severity_rank(verdict: dict[str, Any]) -> int:
    severity = verdict.get("severity")
    return _SEVERITY.get(severity, -1) if isinstance(severity, str) else -1
