"""No secret or key in the deployment's parameters or outputs.

Keys stay out of azd's environment files and deployment history: main.parameters.json holds no secret
values, no Bicep output is named like a secret or reads keys, app settings never embed listKeys(), and
a `@secure()` parameter never has a default.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
SECRET_NAME = re.compile(
    r"key(?!vault)|secret|password|connectionstring|sas|token", re.I
)  # keyVault* is a name, not a key
KEY_FUNCTIONS = re.compile(r"\blist(Keys|ConnectionStrings|Secrets|AccountSas|ServiceSas)\s*\(|\.listKeys\(", re.I)
# Names that look secret-ish but are not: azd's resource token and the Key Vault secret *id* of a certificate.
ALLOWED_NAMES = {
    "resourceToken",
    "token",
    "sslCertificateSecretId",
    "smtpPasswordSecretName",
    "alertWebhooksSecretName",
    "LEDGER_SSL_CERTIFICATE_SECRET_ID",
}  # names of Key Vault secrets, not their values


def _outputs(text: str) -> list[tuple[str, str]]:
    """(name, expression) of each `output` declaration, the expression up to the end of its line."""
    return re.findall(r"^output\s+(\w+)\s+\w+\s*=\s*(.*)$", text, re.M)


def _id(path: Path) -> str:
    return str(path.relative_to(INFRA))


def test_bicep_files_exist():
    assert (INFRA / "main.bicep").is_file()
    assert len(BICEP_FILES) > 10


@pytest.mark.parametrize("path", BICEP_FILES, ids=_id)
def test_no_output_carries_a_secret(path: Path):
    for name, expression in _outputs(path.read_text()):
        assert not (SECRET_NAME.search(name) and name not in ALLOWED_NAMES), (
            f"{_id(path)}: output {name} looks like a secret"
        )
        assert not KEY_FUNCTIONS.search(expression), f"{_id(path)}: output {name} reads keys"
        assert "ConnectionString" not in expression, f"{_id(path)}: output {name} exposes a connection string"


@pytest.mark.parametrize("path", BICEP_FILES, ids=_id)
def test_no_template_reads_keys(path: Path):
    # Keys read anywhere would end up in app settings, outputs or deployment history.
    assert not KEY_FUNCTIONS.search(path.read_text()), f"{_id(path)} calls a list*Keys/ConnectionStrings function"


@pytest.mark.parametrize("path", BICEP_FILES, ids=_id)
def test_secure_parameters_have_no_default(path: Path):
    text = path.read_text()
    for match in re.finditer(r"@secure\(\)\s*(?:@[^\n]*\n\s*)*param\s+(\w+)\s+\w+([^\n]*)", text):
        assert "=" not in match.group(2), f"{_id(path)}: @secure() param {match.group(1)} has a default"


def test_parameters_file_holds_no_secret_values():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name, entry in parameters.items():
        value = json.dumps(entry.get("value", ""))
        if SECRET_NAME.search(name) and name not in ALLOWED_NAMES:
            raise AssertionError(f"main.parameters.json: parameter {name} looks like a secret")
        assert "reference" not in entry, f"main.parameters.json: {name} pulls a Key Vault secret into the deployment"
        # Only azd environment references or plain non-secret literals.
        assert not re.search(r"AccountKey=|SharedAccessKey=|password=", value, re.I), f"{name} embeds a key"


def test_scanners_catch_what_they_should():
    assert _outputs("output storageKey string = st.listKeys().keys[0].value\n") == [
        ("storageKey", "st.listKeys().keys[0].value")
    ]
    assert KEY_FUNCTIONS.search("x: listConnectionStrings(id, '2021')")
