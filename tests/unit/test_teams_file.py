"""LEDGER_TEAMS_FILE is validated whole when the app starts: a bad file stops it with one message naming the
file, the team and the problem, rather than reports that silently leave calls out of a team."""

from __future__ import annotations

import json

import pytest

from shared.app.settings import SettingsError
from shared.reports.teams import TeamsFileError, load_teams
from shared.store.sql import SqlStore
from tests.conftest import make_context

GOOD = {
    "name": "marketing",
    "costCenter": "CC-1001",
    "match": {"subscription": ["sub-ads"], "user": ["ana@contoso.com"]},
}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"teams": [', r"is not JSON \(Expecting"),
        (b"\xff\xfe", "is not JSON"),
        ('[{"name": "x"}]', r'must be an object \{"teams": \[\.\.\.\]\}'),
        ({"teams": [GOOD], "version": 2}, r'must be an object \{"teams"'),
        ({"teams": [GOOD, {"costCenter": "CC-1", "match": {"app": ["a"]}}]}, r"team #2: name is missing"),
        ({"teams": [GOOD, {"name": " ", "match": {"app": ["a"]}}]}, r"team #2: name is missing"),
        ({"teams": [GOOD, GOOD]}, r"team 'marketing' \(#2\): names a team that an earlier team already names"),
        (
            {"teams": [{"name": "ops", "match": {"subscriptions": ["s"]}}]},
            r"team 'ops' \(#1\): match.subscriptions is not a match key; use subscription, product, app or user",
        ),
        ({"teams": [{"name": "ops", "match": {"app": "app-1"}}]}, r"team 'ops' \(#1\): match.app must be a list"),
        (
            {"teams": [{"name": "ops", "match": {"app": ["a", 7]}}]},
            r"team 'ops' \(#1\): match.app\[1\] must be a non-empty string",
        ),
        ({"teams": [{"name": "ops", "match": {"app": [""]}}]}, r"match.app\[0\] must be a non-empty string"),
        ({"teams": [{"name": "ops", "match": {}}]}, r"team 'ops' \(#1\): match is empty"),
        ({"teams": [{"name": "ops", "match": {"app": [], "user": []}}]}, r"match is empty"),
        ({"teams": [{"name": "ops"}]}, r"team 'ops' \(#1\): match must be an object"),
        (
            {"teams": [{"name": "ops", "costCentre": "CC", "match": {"app": ["a"]}}]},
            r"'costCentre' is not a team field",
        ),
        (
            {"teams": [{"name": "ops", "costCenter": 1001, "match": {"app": ["a"]}}]},
            r"costCenter must be a non-empty string",
        ),
        ({"teams": ["ops"]}, r"team #1: must be an object"),
    ],
)
def test_a_bad_teams_file_stops_the_start_naming_the_file_the_team_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "teams.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    store = SqlStore.from_url("sqlite://")
    try:
        with pytest.raises(SettingsError, match=rf"^LEDGER_TEAMS_FILE {path}: .*{problem}"):
            make_context(store, LEDGER_TEAMS_FILE=str(path))
    finally:
        store.dispose()


def test_a_missing_teams_file_is_named(tmp_path):
    with pytest.raises(TeamsFileError, match=rf"LEDGER_TEAMS_FILE {tmp_path / 'nope.json'}: cannot be read"):
        load_teams(tmp_path / "nope.json")


def test_a_good_file_keeps_its_order_and_its_version_is_a_hash_of_its_bytes(tmp_path):
    path = tmp_path / "teams.json"
    second = {"name": "sales", "costCenter": None, "match": {"product": ["gold", "gold"]}}
    path.write_text(json.dumps({"teams": [GOOD, second]}), encoding="utf-8")
    teams = load_teams(path)
    assert teams is not None and teams.names == ("marketing", "sales") and teams.cost_centers == ("CC-1001",)
    assert teams.teams[1].match == {"product": ("gold",)}
    path.write_text(json.dumps({"teams": [second, GOOD]}), encoding="utf-8")  # the same teams, another order
    reordered = load_teams(path)
    assert reordered is not None and len(teams.version) == 12 and reordered.version != teams.version
    assert load_teams(None) is None
