"""Teams and cost centres (`LEDGER_TEAMS_FILE`): which team a call belongs to, decided when a report is asked for.

The file lists teams in order, each with the subscriptions, products, apps and users it holds (ids or display
names). A call belongs to the first team any of whose lists holds one of its four keys, else to no team. Nothing
is written at ingest: a report maps the keys the rollups already hold through one CASE expression, so editing the
file re-draws past reports too, and each report names the file's version (`teamsVersion`, a hash of its bytes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from sqlalchemy import Connection, Unicode, bindparam, case, false, literal, or_

from shared.app.settings import SettingsError
from shared.store.display_names import ids_by_name

TEAM_KEYS = ("team", "costCenter")
# A match list per key of the call, and the column holding that key in the calls and the wide rollups.
MATCH_COLUMNS = {"subscription": "subscription_id", "product": "product_id", "app": "app_id", "user": "user_id"}
_TEAM_FIELDS = ("name", "costCenter", "match")
_MATCH_KEYS_TEXT = "subscription, product, app or user"
MAX_TEXT = 256  # what a filter value or a quota scope may carry


class TeamsFileError(SettingsError):
    """The teams file cannot be used; the message names the file, the team and the problem."""


@dataclass(frozen=True)
class Team:
    name: str
    cost_center: str | None
    match: Mapping[str, tuple[str, ...]]  # per key of MATCH_COLUMNS: ids or names (with names resolved: both)


@dataclass(frozen=True)
class Teams:
    path: Path
    version: str  # the first 12 hex digits of the file's SHA-256
    teams: tuple[Team, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(team.name for team in self.teams)

    @property
    def cost_centers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(team.cost_center for team in self.teams if team.cost_center))

    def known(self, key: str, value: str) -> bool:
        return value in (self.names if key == "team" else self.cost_centers)


def load_teams(path: Path | None) -> Teams | None:
    """The teams of `LEDGER_TEAMS_FILE`, validated whole; None when the setting is empty."""
    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TeamsFileError(f"LEDGER_TEAMS_FILE {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TeamsFileError(f"LEDGER_TEAMS_FILE {path}: is not JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"teams"} or not isinstance(doc["teams"], list):
        raise TeamsFileError(f'LEDGER_TEAMS_FILE {path}: must be an object {{"teams": [...]}} and nothing else')
    teams: list[Team] = []
    for index, entry in enumerate(doc["teams"]):
        team = _team(entry, lambda problem, i=index, e=entry: _error(path, i, e, problem))
        if team.name in (t.name for t in teams):
            raise _error(path, index, entry, "names a team that an earlier team already names")
        teams.append(team)
    return Teams(path, hashlib.sha256(raw).hexdigest()[:12], tuple(teams))


def _error(path: Path, index: int, entry: Any, problem: str) -> TeamsFileError:
    name = entry.get("name") if isinstance(entry, dict) else None
    which = f"team {name!r} (#{index + 1})" if isinstance(name, str) and name.strip() else f"team #{index + 1}"
    return TeamsFileError(f"LEDGER_TEAMS_FILE {path}: {which}: {problem}")


def _team(entry: Any, error) -> Team:
    if not isinstance(entry, dict):
        raise error("must be an object with name, costCenter and match")
    unknown = sorted(set(entry) - set(_TEAM_FIELDS))
    if unknown:
        raise error(f"{unknown[0]!r} is not a team field; use {', '.join(_TEAM_FIELDS)}")
    name = entry.get("name")
    if not _text(name):
        raise error(f"name is missing; it must be a non-empty string of at most {MAX_TEXT} characters")
    cost_center = entry.get("costCenter")
    if cost_center is not None and not _text(cost_center):
        raise error(f"costCenter must be a non-empty string of at most {MAX_TEXT} characters, or null")
    match = entry.get("match")
    if not isinstance(match, dict):
        raise error(f"match must be an object with any of {_MATCH_KEYS_TEXT}")
    lists: dict[str, tuple[str, ...]] = {}
    for key, values in match.items():
        if key not in MATCH_COLUMNS:
            raise error(f"match.{key} is not a match key; use {_MATCH_KEYS_TEXT}")
        if not isinstance(values, list):
            raise error(f"match.{key} must be a list of ids or names")
        bad = next((i for i, value in enumerate(values) if not _text(value)), None)
        if bad is not None:
            raise error(f"match.{key}[{bad}] must be a non-empty string of at most {MAX_TEXT} characters")
        lists[key] = tuple(dict.fromkeys(values))
    if not any(lists.values()):
        raise error("match is empty: the team would hold no call")
    return Team(name, cost_center, lists)


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TEXT and "\x00" not in value


def with_ids_of_names(conn: Connection, teams: Teams) -> Teams:
    """The teams with every entry that is a display name joined by the ids bearing it (the entries stay, as ids)."""
    named: dict[str, dict[str, list[str]]] = {
        key: ids_by_name(conn, key, [value for team in teams.teams for value in team.match.get(key, ())])
        for key in MATCH_COLUMNS
    }
    return replace(
        teams,
        teams=tuple(
            replace(
                team,
                match={
                    key: tuple(dict.fromkeys([*values, *(i for v in values for i in named[key].get(v, ()))]))
                    for key, values in team.match.items()
                },
            )
            for team in teams.teams
        ),
    )


def team_expression(table: Any, teams: Teams | None, key: str) -> Any:
    """The call's team name (key `team`) or its team's cost centre (`costCenter`) over a table holding the four
    match columns, '' for none (as the rollups store an unknown key): one CASE, first matching team wins.

    Its values are written into the statement (escaped by the dialect), not bound: a report groups by this
    expression, and SQL Server takes `CASE ... ?` in the select list and in GROUP BY for two different
    expressions (error 8120) when each `?` is its own parameter (https://github.com/mkleehammer/pyodbc/issues/479,
    https://github.com/sqlalchemy/sqlalchemy/issues/4540); it also caps a statement at 2,100 parameters.
    """
    whens = [
        (_matches(table, team), _inline(team.name if key == "team" else team.cost_center or ""))
        for team in (teams.teams if teams is not None else ())
    ]
    return case(*whens, else_=_inline("")) if whens else _inline("")


def team_condition(table: Any, teams: Teams | None, key: str, value: str) -> Any:
    """Calls whose team (or cost centre) is `value`: none when no team has it."""
    if teams is None or not teams.known(key, value):
        return false()
    return team_expression(table, teams, key) == value


def _matches(table: Any, team: Team) -> Any:
    return or_(
        *(
            table.c[MATCH_COLUMNS[key]].in_(
                bindparam(None, list(values), Unicode(), expanding=True, literal_execute=True)
            )
            for key, values in team.match.items()
            if values
        )
    )


def _inline(value: str) -> Any:
    return literal(value, Unicode(), literal_execute=True)  # N'...' on SQL Server: names are not all ASCII


def team_columns(keys: Iterable[str]) -> set[str]:
    """The match columns a query on these keys reads (none when it names no team key)."""
    return set(MATCH_COLUMNS.values()) if any(key in TEAM_KEYS for key in keys) else set()
