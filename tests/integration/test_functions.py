"""The registered functions called with real azure.functions objects, and their bindings as the host reads them."""

from __future__ import annotations

import base64
import gc
import json
from pathlib import Path

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from shared.app import wiring
from tests.builders import capture_event, encode
from tests.function_index import bindings, indexed_functions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(monkeypatch, tmp_path):
    """function_app over a temporary SQLite file, configured through the environment as in Azure."""
    monkeypatch.setenv("LEDGER_SQL_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("LEDGER_AUTH", "dev")
    monkeypatch.setenv("LEDGER_EMAIL_MODE", "off")
    wiring.reset_app_context()
    import function_app

    yield function_app.app
    wiring.reset_app_context()


def test_ingest_binding_is_a_batched_identity_based_event_hub_trigger(app):
    (trigger,) = bindings(indexed_functions(app)["ingest"])
    assert trigger["type"] == "eventHubTrigger"
    assert trigger["cardinality"].lower() == "many"
    assert trigger["connection"] == "EVENTHUB"  # EVENTHUB__fullyQualifiedNamespace: managed identity, no keys
    assert trigger["eventHubName"] == "%EVENTHUB_NAME%"
    assert trigger["consumerGroup"] == "%EVENTHUB_CONSUMER_GROUP%"


def test_timer_schedules_come_from_app_settings(app):
    for function in indexed_functions(app).values():
        trigger = bindings(function)[0]
        if trigger["type"] == "timerTrigger":
            assert trigger["schedule"].startswith("%") and trigger["schedule"].endswith("%")


def test_http_routes_are_anonymous_at_the_host_and_guarded_by_the_app(app):
    routes = {bindings(f)[0]["route"]: bindings(f)[0] for f in indexed_functions(app).values() if f.is_http_function()}
    assert {"health", "usage"} <= set(routes)
    assert all(binding["authLevel"] == "ANONYMOUS" for binding in routes.values())


def test_ingest_function_records_a_batch_of_event_hub_events(app):
    ingest = indexed_functions(app)["ingest"].get_user_function()
    events = [func.EventHubEvent(body=encode(capture_event(call_id=f"fn-{i}")), sequence_number=i) for i in range(3)]
    events.append(func.EventHubEvent(body=b"\x00garbage", sequence_number=3))
    ingest(events)
    usage = indexed_functions(app)["usage"].get_user_function()
    response = usage(
        func.HttpRequest(
            "GET", "http://localhost/api/usage?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", body=b"", headers={}
        )
    )
    body = json.loads(response.get_body())
    assert response.status_code == 200 and body["totals"]["requests"] == 3


def test_ingest_keeps_the_process_long_lived_objects_out_of_garbage_collections(app):
    # Full collections during a batch would otherwise walk the modules, the store and the price book each time.
    ingest = indexed_functions(app)["ingest"].get_user_function()
    ingest([func.EventHubEvent(body=encode(capture_event(call_id="fn-frozen")), sequence_number=0)])
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == wiring.YOUNG_COLLECTION_THRESHOLD


def test_usage_function_answers_bad_parameters_with_problem_json(app):
    usage = indexed_functions(app)["usage"].get_user_function()
    response = usage(func.HttpRequest("GET", "http://localhost/api/usage?groupBy=user,colour", body=b"", headers={}))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "groupBy" in json.loads(response.get_body())["detail"]


def test_health_function_reports_the_store(app):
    health = indexed_functions(app)["health"].get_user_function()
    response = health(func.HttpRequest("GET", "http://localhost/api/health", body=b"", headers={}))
    assert response.status_code == 200 and json.loads(response.get_body())["store"] == "reachable"


def test_easyauth_principal_is_ignored_where_app_service_authentication_is_off(app, monkeypatch):
    monkeypatch.setenv("LEDGER_AUTH", "easyauth")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    wiring.reset_app_context()
    principal = base64.b64encode(json.dumps({"claims": [{"typ": "roles", "val": "Usage.ReadAll"}]}).encode()).decode()
    usage = indexed_functions(app)["usage"].get_user_function()
    response = usage(
        func.HttpRequest("GET", "http://localhost/api/usage", body=b"", headers={"X-MS-CLIENT-PRINCIPAL": principal})
    )
    assert response.status_code == 401


def test_easyauth_principal_with_usage_read_sees_only_its_own_rows(app, monkeypatch):
    ingest = indexed_functions(app)["ingest"].get_user_function()
    ingest([func.EventHubEvent(body=encode(capture_event(user_id=user))) for user in ("oid-ana", "oid-bob", "oid-bob")])
    monkeypatch.setenv("LEDGER_AUTH", "easyauth")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    wiring.reset_app_context()
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "oid-bob"},
        {"typ": "roles", "val": "Usage.Read"},
    ]
    principal = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()
    usage = indexed_functions(app)["usage"].get_user_function()
    response = usage(
        func.HttpRequest(
            "GET",
            "http://localhost/api/usage?groupBy=user&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            body=b"",
            headers={"X-MS-CLIENT-PRINCIPAL": principal},
        )
    )
    rows = json.loads(response.get_body())["rows"]
    assert [(r["user"], r["requests"]) for r in rows] == [("oid-bob", 2)]


def test_timer_functions_run_with_a_timer_request(app):
    for function in indexed_functions(app).values():
        if bindings(function)[0]["type"] == "timerTrigger":
            function.get_user_function()(TimerRequest(past_due=False))


def test_importing_function_app_does_not_import_azure_sdks():
    import subprocess
    import sys

    code = "import function_app, sys; print([m for m in sys.modules if m.startswith(('azure.identity','azure.storage','azure.kusto','azure.monitor','azure.communication','pyodbc'))])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_route_manifest_matches_the_registered_routes():
    from shared.api.handler import ROUTES
    from shared.api.manifest import ROUTE_TABLE

    assert {route.name: (route.method, route.path) for route in ROUTES.values()} == ROUTE_TABLE


def test_importing_function_app_defers_the_store_and_api_to_the_first_invocation():
    import subprocess
    import sys

    code = "import function_app, sys; print(sorted(m for m in ('sqlalchemy', 'genai_prices', 'jwt', 'shared.api.handler', 'shared.ingest.batch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
