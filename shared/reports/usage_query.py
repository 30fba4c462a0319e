"""The vocabulary of usage reports: what a query may group and filter by, shared by the report builder (`usage`)
and the cumulative reads (`usage_spans`). The figures a row carries are in `figures`, the sums behind them
(the rollups' measures) in `shared.store.measures`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.reports.teams import TEAM_KEYS, Teams, team_columns, team_condition, team_expression

if TYPE_CHECKING:
    from shared.reports.ptu import PtuPlan

GROUP_KEYS = (
    "user",
    "subscription",
    "product",
    "app",
    "endUser",
    "team",  # and costCenter: from LEDGER_TEAMS_FILE, over the four keys above (`teams`)
    "costCenter",
    "ip",
    "model",
    "deployment",
    "operation",
    "backend",
    "status",
    "day",
    "hour",
)
TIME_KEYS = ("day", "hour")
KEY_COLUMNS = {
    "user": "user_id",
    "subscription": "subscription_id",
    "product": "product_id",
    "app": "app_id",
    "endUser": "end_user",
    "ip": "ip",
    "model": "model",
    "deployment": "deployment",
    "operation": "operation",
    "backend": "backend_id",
    "status": "status",
}
FILTER_KEYS = (*KEY_COLUMNS, *TEAM_KEYS)


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)  # a tuple: any of these ids
    only_user: str | None = None  # Usage.Read callers see their own rows only
    narrow_rollups: bool = True  # False: always the wide rollup (the benchmark compares the two)
    teams: Teams | None = None  # what `team` and `costCenter` mean (LEDGER_TEAMS_FILE); None: no call has a team
    ptu: PtuPlan | None = None  # provisioned deployments (LEDGER_PTU_FILE): rows gain their PTU figures


INTERVALS = ("hour", "day")


def key_column(table, key: str, query: UsageQuery) -> Any:
    """A group key over a table with the key columns: its column, or for a team key the expression mapping the
    four match columns to the team (`teams`)."""
    return team_expression(table, query.teams, key) if key in TEAM_KEYS else table.c[KEY_COLUMNS[key]]


def key_columns(keys: Iterable[str]) -> set[str]:
    """The columns a query on these (non-time) keys reads."""
    keys = list(keys)
    return {KEY_COLUMNS[k] for k in keys if k in KEY_COLUMNS} | team_columns(keys)


def key_conditions(table, query: UsageQuery) -> list:
    """The query's filters and caller limit on a table with the key columns (calls, or any rollup)."""
    conditions = [
        team_condition(table, query.teams, name, value)
        if name in TEAM_KEYS and isinstance(value, str)
        else table.c[KEY_COLUMNS[name]].in_(value)
        if isinstance(value, tuple)
        else table.c[KEY_COLUMNS[name]] == (int(value) if name == "status" else value)
        for name, value in query.filters.items()
    ]
    if query.only_user is not None:
        conditions.append(table.c.user_id == query.only_user)
    return conditions
