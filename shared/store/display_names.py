"""The display names the ledger has seen per id (`display_names`): written by ingest in the batch's transaction,
read by reports one lookup per page of rows, so a report never joins the calls to show a name.

Ids of every kind share the table; the latest name by call time wins, so a replayed old event cannot bring back
a name that was since changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import Column, Connection, Index, PrimaryKeyConstraint, String, Table, and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.store.records import CallRecord
from shared.store.schema import NAME, UTC_TIME, metadata
from shared.store.times import naive_utc

display_names = Table(
    "display_names",
    metadata,
    Column("kind", String(16), nullable=False),  # user | subscription | app | product
    Column("id", NAME, nullable=False),
    Column("name", NAME, nullable=False),
    Column("seen_at", UTC_TIME, nullable=False),  # the time of the latest call that carried this name
    PrimaryKeyConstraint("kind", "id", name="pk_display_names"),
    Index("ix_display_names_name", "kind", "name"),  # a filter by name resolves to ids
)

# The record fields that name an id, per kind. Apps and products have no name in any input format yet.
NAMED_FIELDS = {"user": ("user_id", "user_name"), "subscription": ("subscription_id", "subscription_name")}
_CHUNK = 500


def latest_names(records: Iterable[CallRecord]) -> dict[tuple[str, str], tuple[str, datetime]]:
    """{(kind, id): (name, call time)}: the latest name per id among `records`."""
    latest: dict[tuple[str, str], tuple[str, datetime]] = {}
    for record in records:
        time = naive_utc(record.time)
        for kind, (id_field, name_field) in NAMED_FIELDS.items():
            ident, name = getattr(record, id_field), getattr(record, name_field)
            if ident and name:
                known = latest.get((kind, ident))
                if known is None or time > known[1]:
                    latest[(kind, ident)] = (name, time)
    return latest


def write_display_names(conn: Connection, records: Iterable[CallRecord]) -> None:
    """Keep the latest name per id: one upsert row per distinct id of the batch, applied only when newer."""
    rows = [
        {"kind": kind, "id": ident, "name": name, "seen_at": seen}
        for (kind, ident), (name, seen) in sorted(latest_names(records).items())
    ]
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        conn.execute(_upsert(dialect), rows)
        return
    # SQL Server has no ON CONFLICT: update the newer ones, insert what was not there. Two writers racing on a
    # brand-new id make one transaction fail on the primary key; the host retries it (as for the rollups).
    for row in rows:
        key = and_(display_names.c.kind == row["kind"], display_names.c.id == row["id"])
        if conn.execute(select(display_names.c.seen_at).where(key)).first() is None:
            conn.execute(display_names.insert(), row)
        else:
            newer = and_(key, display_names.c.seen_at < row["seen_at"])
            conn.execute(update(display_names).where(newer).values(name=row["name"], seen_at=row["seen_at"]))


@cache  # built once per dialect: ingest writes names for every slice of every batch
def _upsert(dialect: str):
    """Insert a name, or replace the stored one when this one was seen later."""
    proposed = (sqlite_insert if dialect == "sqlite" else pg_insert)(display_names)
    return proposed.on_conflict_do_update(
        index_elements=["kind", "id"],
        set_={"name": proposed.excluded.name, "seen_at": proposed.excluded.seen_at},
        where=proposed.excluded.seen_at > display_names.c.seen_at,
    )


def names_of(conn: Connection, kind: str, ids: Sequence[str]) -> dict[str, str]:
    """{id: name} for the ids of `kind` that have a name."""
    found: dict[str, str] = {}
    distinct = sorted(set(ids))
    for start in range(0, len(distinct), _CHUNK):
        chunk = distinct[start : start + _CHUNK]
        query = select(display_names.c.id, display_names.c.name).where(
            display_names.c.kind == kind, display_names.c.id.in_(chunk)
        )
        found.update((ident, name) for ident, name in conn.execute(query))
    return found


def ids_named(conn: Connection, kind: str, name: str) -> list[str]:
    """The ids of `kind` whose latest name is `name`, in id order."""
    return ids_by_name(conn, kind, [name]).get(name, [])


def ids_by_name(conn: Connection, kind: str, names: Sequence[str]) -> dict[str, list[str]]:
    """{name: the ids of `kind` whose latest name it is, in id order} for the names that some id bears."""
    found: dict[str, list[str]] = {}
    distinct = sorted(set(names))
    for start in range(0, len(distinct), _CHUNK):
        query = select(display_names.c.name, display_names.c.id).where(
            display_names.c.kind == kind, display_names.c.name.in_(distinct[start : start + _CHUNK])
        )
        for name, ident in conn.execute(query.order_by(display_names.c.id)):
            found.setdefault(name, []).append(ident)
    return found
