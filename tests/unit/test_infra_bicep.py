"""Every Bicep file parses with the real Bicep grammar, and every module call fits the module it calls.

There is no Bicep compiler here (`az bicep build` runs where the Azure CLI is). The tree-sitter grammar of
Bicep finds what the compiler would refuse first: a file that does not parse, and a module given a
parameter it does not declare or not given one it requires.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bicep import BICEP_FILES, INFRA, module_calls, parameters, parse, parse_file, resource_types, syntax_problems


def _id(path: Path) -> str:
    return str(path.relative_to(INFRA)) if path.is_relative_to(INFRA) else path.name


def test_the_grammar_sees_the_declarations_of_the_templates():
    # A parser that accepted anything would pass the syntax test; this one knows resources and modules.
    main = parse_file(INFRA / "main.bicep")
    assert "Microsoft.Resources/resourceGroups@2021-04-01" in resource_types(main)
    assert {call.name for call in module_calls(main)} >= {"functions", "apim", "rbac", "appgateway"}


@pytest.mark.parametrize("path", BICEP_FILES, ids=_id)
def test_bicep_file_parses_without_errors(path: Path):
    problems = syntax_problems(parse_file(path))
    assert not problems, f"{_id(path)} does not parse:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  name: 'kv'\n",  # unclosed body
        "param location strin g\n",  # broken type
        "resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  name: 'kv',,\n}\n",  # stray commas
    ],
)
def test_syntax_check_reports_broken_bicep(source: str):
    assert syntax_problems(parse(source))


def _local_module_calls() -> list[tuple[Path, object]]:
    return [
        (path, call)
        for path in BICEP_FILES
        for call in module_calls(parse_file(path))
        if not call.source.startswith("br")
    ]  # registry modules are checked by their publisher


def module_call_problems(caller: Path, call) -> list[str]:
    target = (caller.parent / call.source).resolve()
    where = f"{_id(caller)}:{call.line} module {call.name}"
    if not target.is_file():
        return [f"{where}: {call.source} does not exist"]
    declared = parameters(parse_file(target))
    problems = [
        f"{where}: passes {name}, which {call.source} does not declare" for name in sorted(call.params - set(declared))
    ]
    problems += [
        f"{where}: does not pass {name}, which {call.source} requires"
        for name, parameter in sorted(declared.items())
        if parameter.required and name not in call.params
    ]
    return problems


def test_module_calls_pass_exactly_the_parameters_their_modules_declare():
    calls = _local_module_calls()
    assert len(calls) > 15
    problems = [problem for caller, call in calls for problem in module_call_problems(caller, call)]
    assert not problems, "\n".join(problems)


def test_module_check_reports_unknown_and_missing_parameters(tmp_path: Path):
    (tmp_path / "child.bicep").write_text("param needed string\nparam optional int = 1\n")
    caller = tmp_path / "main.bicep"
    caller.write_text("module child 'child.bicep' = {\n  name: 'c'\n  params: {\n    typo: 'x'\n  }\n}\n")
    [call] = module_calls(parse(caller.read_text()))
    problems = module_call_problems(caller, call)
    assert any("passes typo" in problem for problem in problems)
    assert any("does not pass needed" in problem for problem in problems)


def test_functions_app_on_flex_consumption_validates_tokens_itself():
    # Easy Auth is not supported on Flex Consumption and does not block unauthenticated callers there
    # (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations), so the app
    # must not trust X-MS-CLIENT-PRINCIPAL: it runs with LEDGER_AUTH=jwt and its tenant and audience.
    source = (INFRA / "modules" / "functions.bicep").read_text()
    assert "'FC1'" in source
    settings = dict(
        re.findall(r"^  (LEDGER_AUTH|LEDGER_JWT_TENANT_ID|LEDGER_JWT_AUDIENCE): (.+?)(?:\s*//.*)?$", source, re.M)
    )
    assert settings.get("LEDGER_AUTH") == "'jwt'"
    assert settings.get("LEDGER_JWT_TENANT_ID") not in (None, "''")
    assert settings.get("LEDGER_JWT_AUDIENCE") not in (None, "''")
    assert "authsettingsV2" not in source, "Easy Auth configured on a Flex Consumption app"
