"""Two views of the same call become one record.

The capture event gives bodies and the caller; Azure Monitor's LLM log gives the gateway's own token counts
(also for streams the gateway did not buffer). When both arrive, in any order, the call is kept once: the
first record is completed by the second, and the same view seen twice changes nothing.
"""

from __future__ import annotations

from dataclasses import fields, replace

from shared.store.records import CallRecord

_SOURCE_SEPARATOR = "+"
_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")
_NEVER_MERGED = {"call_id", "source", "time", *_TOKEN_FIELDS, "tokens_estimated", "cost_usd"}
_MERGED = tuple(f.name for f in fields(CallRecord) if f.name not in _NEVER_MERGED)


def sources_of(record: CallRecord) -> set[str]:
    return set(record.source.split(_SOURCE_SEPARATOR))


def _has_real_tokens(record: CallRecord) -> bool:
    return record.total_tokens > 0 and not record.tokens_estimated


def merge_records(existing: CallRecord, incoming: CallRecord) -> CallRecord | None:
    """The merged record, or None when `incoming` adds nothing (a duplicate delivery).

    The cost is left as it was: the caller prices the merged record again, since model or tokens may change.
    """
    known = sources_of(existing)
    if sources_of(incoming) <= known:
        return _more_of_the_same(existing, incoming)
    merged = replace(existing, source=_SOURCE_SEPARATOR.join(sorted(known | sources_of(incoming))))
    # Fill what the first view did not know; never overwrite what it did (the capture is authoritative
    # for caller and bodies, and it usually arrives first).
    for name in _MERGED:
        if getattr(merged, name) in (None, "", False) and getattr(incoming, name) not in (None, "", False):
            setattr(merged, name, getattr(incoming, name))
    # Real token counts beat estimates and zeros, whichever view brought them.
    if _has_real_tokens(incoming) and not _has_real_tokens(existing):
        for name in _TOKEN_FIELDS:
            setattr(merged, name, getattr(incoming, name))
        merged.tokens_estimated = False
    if incoming.status and not existing.status:
        merged.status = incoming.status
    return merged


_GROWING_TEXT = ("prompt_text", "completion_text")


def _more_of_the_same(existing: CallRecord, incoming: CallRecord) -> CallRecord | None:
    """A view seen again that knows more: Azure Monitor pieces that arrived after the call was recorded,
    re-assembled with the earlier ones. Its longer text and real token counts replace what was recorded
    (replace, never add: the call is still counted once). Anything else is a duplicate (None)."""
    longer = [name for name in _GROWING_TEXT if len(getattr(incoming, name) or "") > len(getattr(existing, name) or "")]
    tokens = _has_real_tokens(incoming) and not _has_real_tokens(existing)
    if not longer and not tokens:
        return None
    merged = replace(existing)
    for name in longer:
        setattr(merged, name, getattr(incoming, name))
    if tokens:
        for name in _TOKEN_FIELDS:
            setattr(merged, name, getattr(incoming, name))
        merged.tokens_estimated = False
    for name in _MERGED:
        if getattr(merged, name) in (None, "", False) and getattr(incoming, name) not in (None, "", False):
            setattr(merged, name, getattr(incoming, name))
    return merged
