"""Times as the ledger keeps them: the store holds naive UTC datetimes, the domain and the API aware UTC ones.

One module for the conversions so every layer spells them the same way (the store's rows, the reports'
ranges, the jobs' periods, the API's `Z` strings).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def naive_utc(moment: datetime) -> datetime:
    """A time as the store keeps it: UTC without a zone (naive times are taken as UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware_utc(moment: datetime) -> datetime:
    """A naive time (as the store returns it) marked as UTC; an aware one as it is."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def in_utc(moment: datetime) -> datetime:
    """An aware time moved to UTC; a naive one (already UTC) as it is."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def iso_utc(moment: datetime | None) -> str | None:
    """The API's time format: ISO-8601 UTC with `Z`. Naive times (as the store returns them) are UTC."""
    if moment is None:
        return None
    return aware_utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def stored_time(value: Any) -> datetime:
    """A time as read back from the store: aggregates (min, max) over SQLite's text times come back as text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def sqlite_value(value: Any) -> Any:
    """A value as SQLite stores it: times as the text SQLAlchemy's SQLite DateTime writes (always with
    microseconds), so range queries compare right; anything else as it is."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    return value


def hour_of(moment: datetime) -> datetime:
    """The start of the hour holding `moment` (the rollups' hour bucket)."""
    return moment.replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """The start of the day holding `moment` (the rollups' day bucket)."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
