"""Settings are validated once, with errors that name the setting: here, the identity mode's guard rails."""

from __future__ import annotations

import pytest

from shared.app.settings import SettingsError, load_settings


@pytest.mark.parametrize("value", ["dev", "DEV", " Dev ", "\tdev\n"])
@pytest.mark.parametrize("platform", ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"])
def test_dev_mode_is_refused_in_an_azure_deployment_whatever_its_case_or_spaces(value, platform):
    with pytest.raises(SettingsError, match=f"LEDGER_AUTH=.* makes every caller an admin.*{platform}"):
        load_settings({"LEDGER_AUTH": value, platform: "ledger-func-1"})


@pytest.mark.parametrize("value", ["DEV", " Dev "])
def test_dev_mode_in_any_spelling_is_dev_mode_locally(value):
    assert load_settings({"LEDGER_AUTH": value}).auth_mode == "dev"
    assert load_settings({"LEDGER_AUTH": "easyauth", "WEBSITE_INSTANCE_ID": "x"}).auth_mode == "easyauth"


def test_the_api_write_wait_is_a_positive_number_of_seconds():
    assert load_settings({"LEDGER_API_WRITE_WAIT_SECONDS": "0.5"}).api_write_wait_seconds == 0.5
    with pytest.raises(SettingsError, match="LEDGER_API_WRITE_WAIT_SECONDS"):
        load_settings({"LEDGER_API_WRITE_WAIT_SECONDS": "soon"})
