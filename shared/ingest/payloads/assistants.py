"""Assistants API bodies: a run carries the usage of the whole run once it is terminal; messages carry text.

Only a single `thread.run` object counts: a list of runs (a client browsing its history) would count the
same runs again at every poll, so it yields nothing. Messages are never estimated, because their tokens
are billed, and reported, on the run that reads them.
"""

from __future__ import annotations

from typing import Any

from shared.ingest.payloads.content import content_text
from shared.ingest.payloads.draft import Draft
from shared.ingest.payloads.sse import DONE, iter_json_events
from shared.ingest.payloads.usage import usage_from
from shared.ingest.values import as_dict, as_str


def read_assistants_response(draft: Draft, body: Any) -> None:
    """Fill usage from a run object, text from a message object; ignore lists and other objects."""
    draft.estimable = False
    if not isinstance(body, dict):
        return
    kind = body.get("object")
    if kind == "thread.run":
        _read_run(draft, body)
    elif kind == "thread.message":
        draft.facts.completion_text = content_text(body.get("content"))


def read_assistants_stream(draft: Draft, text: str) -> None:
    """A run stream: `thread.run.*` events carry the run (usage on the terminal one), then `done`."""
    facts = draft.facts
    facts.streamed = True
    facts.stream_complete = False
    draft.estimable = False
    for event, data in iter_json_events(text):
        if data is DONE or event == "done":
            facts.stream_complete = True
        elif isinstance(data, dict):
            kind = data.get("object")
            if kind == "thread.run":
                _read_run(draft, data)
            elif kind == "thread.message" and data.get("status") == "completed":
                facts.completion_text = content_text(data.get("content"))


def _read_run(draft: Draft, run: dict[str, Any]) -> None:
    facts = draft.facts
    facts.response_model = as_str(run.get("model"))
    facts.finish_reason = as_str(run.get("status"))
    facts.usage = usage_from(run.get("usage"))  # null until the run is terminal
    error = as_dict(run.get("last_error"))
    if error:
        facts.error_code = as_str(error.get("code"))
        facts.error_message = as_str(error.get("message"))
    reason = as_str(as_dict(run.get("incomplete_details")).get("reason"))
    if reason == "content_filter" or facts.error_code == "content_filter":
        facts.content_filtered = True
