"""Text retention and redaction reach Azure: the azd variables become main.bicep parameters, the app settings,
a Blob lifecycle rule on claim-checked bodies and the ADX text table's retention (schema.kql: test_kusto_schema)."""

from __future__ import annotations

import json
import re

from shared.app.settings import SETTINGS
from tests.bicep import INFRA, module_calls, parameters, parse_file

MAIN = INFRA / "main.bicep"
STORAGE = INFRA / "modules" / "storage.bicep"
DEFAULTS = {spec.name: spec.default for spec in SETTINGS}


def _lifecycle_rules() -> dict[str, str]:
    """Name -> text of each rule in storage.bicep's management policy."""
    policy = re.search(r"managementPolicies@[^']+' = \{(.*?)\n\}\n", STORAGE.read_text(), re.S).group(1)
    starts = [(m.group(1), m.start()) for m in re.finditer(r"name: '([\w-]+)'\n", policy)]
    return {
        name: policy[start : (starts[i + 1][1] if i + 1 < len(starts) else len(policy))]
        for i, (name, start) in enumerate(starts)
        if name != "default"
    }


def test_azd_variables_feed_the_text_retention_and_redaction_parameters_with_the_apps_defaults():
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = parameters(parse_file(MAIN))
    for parameter, setting in (("textRetentionDays", "LEDGER_TEXT_RETENTION_DAYS"), ("redact", "LEDGER_REDACT")):
        assert parameter in declared
        assert mapped[parameter]["value"] == f"${{{setting}={DEFAULTS[setting]}}}"
    source = MAIN.read_text()
    assert f"param textRetentionDays int = {DEFAULTS['LEDGER_TEXT_RETENTION_DAYS']}" in source
    assert f"param redact string = '{DEFAULTS['LEDGER_REDACT']}'" in source


def test_main_passes_the_days_to_storage_adx_and_the_app_and_the_mode_to_the_app():
    calls = {call.name: call.params for call in module_calls(parse_file(MAIN))}
    for module in ("storage", "adx", "functions"):
        assert "textRetentionDays" in calls[module], module
    assert "redact" in calls["functions"]
    source = MAIN.read_text()
    assert source.count("textRetentionDays: textRetentionDays") == 3 and "redact: redact" in source


def test_claim_checked_bodies_are_deleted_after_the_text_retention_and_no_text_rule_when_kept_forever():
    rules = _lifecycle_rules()
    text_rule = rules["delete-text-after-retention"]
    assert "enabled: textRetentionDays > 0" in text_rule  # 0 keeps text forever: no text rule
    assert "prefixMatch: ['${bodiesContainerName}/']" in text_rule and "blobTypes: ['blockBlob']" in text_rule
    assert re.search(r"baseBlob: \{\s+delete: \{\s+daysAfterCreationGreaterThan: textRetentionDays\s+\}", text_rule)
    # the hand-over rule stays whatever the text retention: bodies are unredacted copies of what ingest stored
    assert "daysAfterModificationGreaterThan: bodyRetentionDays" in rules["delete-claim-checked-bodies"]
    assert "enabled: true" in rules["delete-claim-checked-bodies"]
    assert "@minValue(0)\nparam textRetentionDays int" in STORAGE.read_text()


def test_the_bodies_container_is_the_one_apim_writes_claim_checks_to():
    # the lifecycle prefix is `<bodiesContainerName>/`; APIM names blobs bodies/<request id>-request|response
    assert "param bodiesContainerName string = 'bodies'" in STORAGE.read_text()
    capture = INFRA / "apim" / "policies" / "fragment-capture-v1.xml"
    assert '"bodies/" + context.RequestId' in capture.read_text()
