"""The app settings are the same set everywhere they are named.

`shared.app.settings.SETTINGS` is the one list; the Functions app's Bicep app settings, the `Values` of
`local.settings.sample.json` and the settings table of the README must name exactly the same settings.
Names the Functions platform reads for itself (AzureWebJobs*, FUNCTIONS_*, APPLICATIONINSIGHTS_*,
WEBSITE_*, `PLATFORM_SETTINGS`, and the `__credential` / `__clientId` parts of an identity-based
connection whose `__fullyQualifiedNamespace` is a setting) are left out of the comparison.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.app.settings import PLATFORM_SETTINGS, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_BICEP = ROOT / "infra" / "modules" / "functions.bicep"
LOCAL_SETTINGS = ROOT / "local.settings.sample.json"
README = ROOT / "README.md"

EXPECTED = {spec.name for spec in SETTINGS}
_PLATFORM_PREFIXES = ("AzureWebJobs", "FUNCTIONS_", "APPLICATIONINSIGHTS_", "WEBSITE_")
_CONNECTION_PREFIXES = {name.split("__", 1)[0] for name in EXPECTED if "__" in name}


def _is_platform(name: str) -> bool:
    if name in PLATFORM_SETTINGS or name.startswith(_PLATFORM_PREFIXES):
        return True
    prefix, _, part = name.partition("__")
    return prefix in _CONNECTION_PREFIXES and part in {"credential", "clientId"}


def _ours(names: set[str]) -> set[str]:
    return {name for name in names if not _is_platform(name)}


def bicep_app_setting_names(text: str) -> set[str]:
    """Keys of the `var ...Settings = { ... }` objects the functions module merges into `appsettings`."""
    names: set[str] = set()
    for block in re.finditer(r"^var \w*[Ss]ettings = \{\n(.*?)^\}", text, re.M | re.S):
        names.update(re.findall(r"^  ([A-Za-z_][A-Za-z0-9_]*)\s*:", block.group(1), re.M))
    return names


def readme_setting_names(text: str) -> set[str] | None:
    """First-column backticked names of the first table under a heading containing "Settings"."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#") and "settings" in line.lower():
            names: set[str] = set()
            in_table = False
            for row in lines[index + 1 :]:
                if row.startswith("#"):
                    break
                if row.lstrip().startswith("|"):
                    in_table = True
                    first = row.strip().strip("|").split("|")[0]
                    names.update(re.findall(r"`([^`]+)`", first))
                elif in_table:
                    break
            if names:
                return names
    return None


def _difference_report(where: str, found: set[str]) -> list[str]:
    problems = []
    missing = sorted(EXPECTED - found)
    extra = sorted(found - EXPECTED)
    if missing:
        problems.append(f"{where} lacks: {', '.join(missing)}")
    if extra:
        problems.append(f"{where} names settings that shared/app/settings.py does not define: {', '.join(extra)}")
    return problems


def test_functions_bicep_names_exactly_the_code_settings():
    names = _ours(bicep_app_setting_names(FUNCTIONS_BICEP.read_text()))
    assert not _difference_report("infra/modules/functions.bicep", names)


def test_functions_bicep_configures_identity_based_host_connections():
    names = bicep_app_setting_names(FUNCTIONS_BICEP.read_text())
    assert {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "EVENTHUB__credential"} <= names
    assert "EVENTHUB__fullyQualifiedNamespace" in names


def test_settings_are_the_same_in_code_bicep_local_settings_and_readme():
    problems = _difference_report(
        "infra/modules/functions.bicep", _ours(bicep_app_setting_names(FUNCTIONS_BICEP.read_text()))
    )
    if not LOCAL_SETTINGS.is_file():
        problems.append("local.settings.sample.json does not exist")
    else:
        values = json.loads(LOCAL_SETTINGS.read_text()).get("Values", {})
        problems += _difference_report("local.settings.sample.json Values", _ours(set(values)))
    if not README.is_file():
        problems.append("README.md does not exist")
    else:
        names = readme_setting_names(README.read_text())
        if names is None:
            problems.append("README.md has no table of `NAME`s under a heading containing 'Settings'")
        else:
            problems += _difference_report("README.md settings table", _ours(names))
    assert not problems, "\n".join(problems)


def test_readme_table_parser_reads_first_column_names():
    text = "# Intro\n\n## Settings\n\n| Name | Default |\n|---|---|\n| `A_B` | `x` |\n| `C__d` | |\n\n## Next\n"
    assert readme_setting_names(text) == {"A_B", "C__d"}
