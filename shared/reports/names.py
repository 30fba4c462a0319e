"""Names beside ids in usage reports: rows grouped by a named key carry the latest name the ledger has seen for
each id (`userName` beside `user`, ...), and a filter on a named key accepts the id or the name.

Names come from `display_names`, one lookup per named key and page of rows: never a join over the calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from shared.reports.usage_query import UsageQuery
from shared.store.display_names import ids_named, names_of

NAME_KEYS = {"user": "userName", "subscription": "subscriptionName", "app": "appName", "product": "productName"}


def with_name_keys(keys: Iterable[str]) -> list[str]:
    """The keys with each named key's name right after it: ["user", "userName", "model"]."""
    return [name for key in keys for name in ((key, NAME_KEYS[key]) if key in NAME_KEYS else (key,))]


def add_names(conn: Connection, rows: list[dict[str, Any]], group_by: Iterable[str]) -> list[dict[str, Any]]:
    """The rows with the name of each named key after its id (null when the ledger has seen none)."""
    named = [key for key in group_by if key in NAME_KEYS]
    if not named or not rows:
        return rows
    names = {key: names_of(conn, key, [row[key] for row in rows if row[key] is not None]) for key in named}
    return [
        {
            field: value
            for key, value in row.items()
            for field, value in (
                ((key, value), (NAME_KEYS[key], names[key].get(value))) if key in names else ((key, value),)
            )
        }
        for row in rows
    ]


def resolve_name_filters(conn: Connection, query: UsageQuery) -> UsageQuery:
    """The query with each filter on a named key matching the value as an id and every id bearing it as a name."""
    if not any(key in NAME_KEYS for key in query.filters):
        return query
    return replace(query, filters={key: id_or_named(conn, key, value) for key, value in query.filters.items()})


def id_or_named(conn: Connection, key: str, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    """A filter value on `key`: the value itself, or with a named key the value and the ids whose name it is."""
    if key not in NAME_KEYS or not isinstance(value, str):
        return value
    ids = tuple(dict.fromkeys((value, *ids_named(conn, key, value))))
    return ids if len(ids) > 1 else value


SHORT_ID = 16  # longer ids (GUIDs, subscription keys) are cut to their first 8 characters beside a name


def name_label(ident: str | None, name: str | None) -> str:
    """How the demo, mails and chat posts name an id: "kofi@contoso.com (82c34a1e…)", the name with enough of
    the id to tell two people of one name apart; the id alone when the ledger has seen no name for it."""
    if ident is None:
        return "unknown"
    if not name or name == ident:
        return ident
    return f"{name} ({ident if len(ident) <= SHORT_ID else ident[:8] + '…'})"


def row_label(row: dict[str, Any], key: str) -> str:
    """The label of a usage row's `key` (its name from `add_names` beside the id)."""
    return name_label(row.get(key), row.get(NAME_KEYS[key]) if key in NAME_KEYS else None)


def scope_labels(conn: Connection, scopes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(kind, id): label} for scopes such as ("user", "oid-kofi"): the latest name seen, one lookup per kind."""
    wanted = set(scopes)
    names = {
        kind: names_of(conn, kind, [ident for k, ident in wanted if k == kind])
        for kind in {kind for kind, _ in wanted if kind in NAME_KEYS}
    }
    return {(kind, ident): name_label(ident, names.get(kind, {}).get(ident)) for kind, ident in wanted}


def full_id_facts(kind: str, ident: str, label: str) -> list[list[str]]:
    """A mail's "User id" fact when its label shows only part of the id: the whole id, to copy into a filter."""
    return [] if ident in label else [[f"{kind.capitalize()} id", ident]]
