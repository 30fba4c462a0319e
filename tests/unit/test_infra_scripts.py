"""The azd hook scripts fit the templates they run around.

`preprovision.sh` registers exactly the resource providers whose types the Bicep deploys (a provider left
out fails the deployment in a fresh subscription, e.g. Microsoft.App for the Flex Consumption VNet
delegation); every azd environment value a script needs is set by someone (a Bicep output, the parameters
file, azd itself, or another script); and `postprovision.sh` gives the app's identity rows, not DDL.
"""

from __future__ import annotations

import json
import re

from tests.bicep import BICEP_FILES, INFRA, module_calls, parse_file, string_literals

SCRIPTS = INFRA / "scripts"
# Registered in every subscription, so the script need not (and does not) register them:
# https://learn.microsoft.com/azure/azure-resource-manager/management/azure-services-resource-providers
REGISTERED_BY_DEFAULT = {"microsoft.resources", "microsoft.authorization"}
# Set by azd itself for every environment.
AZD_VALUES = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID", "AZURE_PRINCIPAL_ID"}


def _namespace(name: str) -> str:
    return name.lower().replace("-", "")


def namespaces_in_bicep() -> set[str]:
    """Providers of every resource type named in a string (declarations, resourceId(), subnet delegations)
    and of every Azure Verified Module (`br/public:avm/res/<provider>/<type>`)."""
    found = set()
    for path in BICEP_FILES:
        tree = parse_file(path)
        for literal in string_literals(tree):
            match = re.match(r"(Microsoft\.[A-Za-z]+)/", literal)
            if match:
                found.add(_namespace(match.group(1)))
        for call in module_calls(tree):
            match = re.match(r"br/public:avm/res/([a-z-]+)/", call.source)
            if match:
                found.add(_namespace("microsoft." + match.group(1)))
    return found


def namespaces_registered_by_preprovision(script: str) -> set[str]:
    block = re.search(r'^providers="([^"]*)"', script, re.M)
    assert block, 'preprovision.sh has no providers="..." list'
    return {_namespace(name) for name in block.group(1).split()}


def test_bicep_scan_sees_delegations_and_verified_modules():
    namespaces = namespaces_in_bicep()
    assert {"microsoft.app", "microsoft.managedidentity", "microsoft.web", "microsoft.kusto"} <= namespaces


def test_preprovision_registers_exactly_the_providers_the_bicep_needs():
    needed = namespaces_in_bicep() - REGISTERED_BY_DEFAULT
    registered = namespaces_registered_by_preprovision((SCRIPTS / "preprovision.sh").read_text())
    assert not needed - registered, f"preprovision.sh does not register {sorted(needed - registered)}"
    assert not registered - needed, f"preprovision.sh registers providers nothing uses: {sorted(registered - needed)}"


def test_provider_list_parser_reads_the_script_block():
    script = 'set -eu\nproviders="\nMicrosoft.Web\nMicrosoft.App\n"\nfor x in $providers; do :; done\n'
    assert namespaces_registered_by_preprovision(script) == {"microsoft.web", "microsoft.app"}


def required_env_values(script: str) -> set[str]:
    """azd environment values a script reads without a fallback (a missing one stops the script)."""
    names = set()
    for line in script.splitlines():
        if "||" in line or "2>/dev/null" in line or line.lstrip().startswith(("#", "optional()", "get()")):
            continue
        names.update(re.findall(r'get-value "?([A-Z][A-Z0-9_]+)"?', line))
        names.update(re.findall(r"\$\(get ([A-Z][A-Z0-9_]+)\)", line))
    return names


def env_values_provided() -> set[str]:
    outputs = set(re.findall(r"^output\s+([A-Z][A-Z0-9_]+)\s", (INFRA / "main.bicep").read_text(), re.M))
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    from_parameters = {
        name
        for entry in parameters.values()
        for name in re.findall(r"\$\{([A-Z][A-Z0-9_]+)", str(entry.get("value", "")))
    }
    set_by_scripts = {
        name for path in SCRIPTS.glob("*.sh") for name in re.findall(r"azd env set ([A-Z][A-Z0-9_]+)", path.read_text())
    }
    return outputs | from_parameters | set_by_scripts | AZD_VALUES


def test_every_env_value_a_script_needs_is_provided():
    provided = env_values_provided()
    problems = [
        f"{path.name} needs {name}, which no output, parameter, azd or script sets"
        for path in sorted(SCRIPTS.glob("*.sh"))
        for name in sorted(required_env_values(path.read_text()))
        if name not in provided
    ]
    assert not problems, "\n".join(problems)


def test_env_value_reader_skips_reads_with_a_fallback():
    script = "a=$(azd env get-value NEEDED)\nb=$(azd env get-value OPTIONAL 2>/dev/null || echo x)\nc=$(get ALSO)\n"
    assert required_env_values(script) == {"NEEDED", "ALSO"}


def test_postprovision_gives_the_app_identity_rows_not_ddl():
    script = (SCRIPTS / "postprovision.sh").read_text()
    granted = set(re.findall(r"ALTER ROLE (\w+) ADD MEMBER", script))
    assert granted == {"db_datareader", "db_datawriter"}, f"the app identity is made a member of {sorted(granted)}"
