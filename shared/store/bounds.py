"""Records bounded to what every store accepts, before any store sees them.

The store limits are read from the table definitions (`shared.store.schema`), so a column made wider or
narrower moves them here too:
- text lengths, counted in the stricter unit of SQL Server, which also satisfies PostgreSQL (characters) and
  SQLite (none): VARCHAR(n) in bytes of UTF-8, NVARCHAR(n) in UTF-16 code units;
- characters a store refuses: NUL (PostgreSQL text) and lone surrogates (no driver can encode them);
- integer widths (INT, BIGINT), checked against the plausible bounds below when this module loads.

On top of them, what one real call can be (`MAX_TOKENS`, `MAX_STATUS`, `MAX_DURATION_MS`, the time window).

What does not fit is handled one of two ways. Descriptive values (names, versions, messages, the NULs of a
body, an unreadable duration) are cut, replaced or dropped and the call is flagged `truncated`: it is still
counted. A call whose identity, time, status or token counts cannot be stored as they are has nothing true to
record; `bound_record` returns the reason and ingest dead-letters the event with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String, Table, Unicode

from shared.store.measures import MEASURE_NAMES
from shared.store.records import CallRecord
from shared.store.schema import PAYLOAD_KEYS, call_payloads, calls, pending_parts, usage_hourly
from shared.store.times import aware_utc

logger = logging.getLogger(__name__)

# The largest context windows are about 10^6 tokens; 10^9 in one call is a corrupt or forged count. With every
# count at most 10^9, a BIGINT rollup sum needs 9.2 billion such calls in one row before it could overflow.
MAX_TOKENS = 10**9
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")
MAX_STATUS = 999  # HTTP statuses are three digits; 0 is "no response"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before Azure existed: a broken clock or a forged time
FUTURE_SLACK = timedelta(days=1)  # gateway clocks run ahead a little, never a day
MAX_DURATION_MS = 86_400_000.0  # no gateway holds a call open for a day; longer is a unit or parsing error
MAX_COST_USD = 1e7  # MAX_TOKENS at the dearest list price (about $600 per million tokens) is $6 x 10^5

REPLACEMENT = "\ufffd"
_REFUSED_CHARS = re.compile("[\x00\ud800-\udfff]")
_INTEGER_MAX = ((BigInteger, 2**63 - 1), (SmallInteger, 2**15 - 1), (Integer, 2**31 - 1))  # subclasses first


@dataclass(frozen=True)
class TextLimit:
    """The length a text column takes: `wide` NVARCHAR counts UTF-16 code units, VARCHAR bytes of UTF-8."""

    length: int
    wide: bool

    def size(self, text: str) -> int:
        if text.isascii():
            return len(text)
        return len(text.encode("utf-16-le")) // 2 if self.wide else len(text.encode())

    def cut(self, text: str) -> str:
        """`text` shortened to fit, ending in "…" and 8 hex digits of the whole value's hash: long names are
        grouping keys, and two that share a long prefix must stay two."""
        tag = "…" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
        budget = self.length - self.size(tag)
        if self.wide:
            head = text.encode("utf-16-le")[: budget * 2].decode("utf-16-le", "ignore")
        else:
            head = text.encode()[:budget].decode("utf-8", "ignore")
        return head + tag


@cache  # a handful of tables
def text_limits(table: Table) -> dict[str, TextLimit]:
    return {
        column.name: TextLimit(column.type.length, isinstance(column.type, Unicode))
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }


def integer_max(column: Column) -> int:
    return next(top for kind, top in _INTEGER_MAX if isinstance(column.type, kind))


CALL_TEXT = text_limits(calls)
PART_TEXT = text_limits(pending_parts)
_CUT_TEXT = tuple(
    (name, limit) for name, limit in CALL_TEXT.items() if name != "call_id"
)  # the id is refused, never cut
_PAYLOAD_FIELDS = tuple(c.name for c in call_payloads.columns if c.name not in PAYLOAD_KEYS)


def check_plausible_bounds_fit_the_schema() -> None:
    """The plausible bounds must fit the columns (a narrower column would bring the overflow back)."""
    too_wide = [name for name in TOKEN_FIELDS if integer_max(calls.c[name]) < MAX_TOKENS]
    too_wide += [
        name for name in TOKEN_FIELDS if name in MEASURE_NAMES and integer_max(usage_hourly.c[name]) < MAX_TOKENS
    ]
    if integer_max(calls.c.status) < MAX_STATUS:
        too_wide.append("status")
    if too_wide:
        raise RuntimeError(f"bounds wider than their columns: {', '.join(too_wide)}")


check_plausible_bounds_fit_the_schema()


def clean_text(text: str) -> str:
    """`text` without the characters a store refuses (each replaced by U+FFFD)."""
    if "\x00" not in text and (text.isascii() or _encodable(text)):
        return text
    return _REFUSED_CHARS.sub(REPLACEMENT, text)


def _encodable(text: str) -> bool:
    """No lone surrogates: UTF-8 encoding fails on exactly those, ~4x faster than a regex looks for them."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def fit(text: str | None, column: Column) -> str | None:
    """`text` made storable in `column`: cleaned, and cut when too long (None stays None)."""
    if text is None:
        return None
    text = clean_text(text if isinstance(text, str) else str(text))
    limit = text_limits(column.table).get(column.name)
    return limit.cut(text) if limit is not None and limit.size(text) > limit.length else text


def bound_record(record: CallRecord, *, now: datetime) -> str | None:
    """Why `record` cannot be stored (a dead letter's reason), or None after cutting it to fit in place."""
    refusal = _refusal(record, now)
    if refusal is not None:
        return refusal
    changed = _cut_to_fit(record)
    if changed:
        record.truncated = True
        logger.warning(
            "call %s: %s cut or replaced to fit the store (flagged truncated)", record.call_id, ", ".join(changed)
        )
    return None


def _refusal(record: CallRecord, now: datetime) -> str | None:
    call_id = record.call_id
    if not isinstance(call_id, str) or not call_id:
        return "call without an id"
    id_limit = CALL_TEXT["call_id"]
    if clean_text(call_id) != call_id:
        return f"call id {_show(call_id)} holds a character no store accepts (NUL or a lone surrogate)"
    if id_limit.size(call_id) > id_limit.length:
        return f"call id {_show(call_id)} is longer than the {id_limit.length} characters the ledger keeps"
    moment = _aware(record.time)
    latest = aware_utc(now) + FUTURE_SLACK
    if moment is None or not EARLIEST <= moment <= latest:
        return (
            f"call {call_id}: time {_show(record.time)} is outside the window the ledger accepts "
            f"({EARLIEST:%Y-%m-%d} to one day after it ingests)"
        )
    if not _int_within(record.status, MAX_STATUS):
        return f"call {call_id}: status {_show(record.status)} is not an HTTP status (0 to {MAX_STATUS})"
    for name in TOKEN_FIELDS:
        if not _int_within(getattr(record, name), MAX_TOKENS):
            return (
                f"call {call_id}: {name} {_show(getattr(record, name))} is not a plausible token count for one "
                f"call (0 to {MAX_TOKENS:,})"
            )
    return None


def _cut_to_fit(record: CallRecord) -> list[str]:
    """Cut or clean every value in place; the names of those changed."""
    changed = []
    for name, limit in _CUT_TEXT:
        value = getattr(record, name)
        if value is None or (
            type(value) is str and value.isascii() and len(value) <= limit.length and "\x00" not in value
        ):
            continue  # the common case, checked inline: this runs for some twenty columns of every call
        fitted = clean_text(value if isinstance(value, str) else str(value))
        if limit.size(fitted) > limit.length:
            fitted = limit.cut(fitted)
        if fitted != value:
            setattr(record, name, fitted)
            changed.append(name)
    for name in ("duration_ms", "backend_ms"):
        value = getattr(record, name)
        if value is not None and not _plausible_duration(value):
            setattr(record, name, None)  # unknown, as when the gateway sends none
            changed.append(name)
    for name in _PAYLOAD_FIELDS:
        value = getattr(record, name)
        fitted = clean_text(value) if isinstance(value, str) else _json_safe(value)
        if fitted is not value:
            setattr(record, name, fitted)
            changed.append(name)
    return changed


def plausible_cost(cost: float | None) -> float | None:
    """A computed cost, or None (unpriced, never a silent 0) when it is not a finite amount one call can cost:
    a float rollup sum that reaches infinity or NaN is refused by SQL Server and poisons every later sum."""
    if cost is None or (math.isfinite(cost) and 0 <= cost <= MAX_COST_USD):
        return cost
    logger.warning("a computed cost of %r USD is not plausible for one call; recorded as unpriced", cost)
    return None


def part_problem(kind: str, key: str, name: str) -> str | None:
    """Why a pending part cannot be stored (its call id or piece name does not fit), or None."""
    for label, value, column in (("call id", key, "part_key"), ("piece name", name, "part")):
        limit = PART_TEXT[column]
        if clean_text(value) != value or limit.size(value) > limit.length:
            return (
                f"{kind} part with {label} {_show(value)}: longer than {limit.length} characters or holding a "
                f"character no store accepts"
            )
    return None


def _int_within(value: Any, top: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top


def _plausible_duration(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_DURATION_MS
    )


def _aware(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return aware_utc(moment)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_safe(value: Any) -> Any:
    """A JSON column's value as it is when orjson can write it, else a copy it can (the store writes it with
    orjson: text with lone surrogates, integers beyond 64 bits and non-text keys would raise there)."""
    if value is None:
        return None
    try:
        orjson.dumps(value)
        return value
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _json_copy(value)


def _json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {clean_text(str(k)): _json_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(v) for v in value]
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    return clean_text(str(value))
