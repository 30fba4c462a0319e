"""The APIM policies under infra/ are well-formed and emit the capture/v1 event exactly.

No APIM runs here, so the checks read the policy files: every XML file must parse, and the C# expression
that builds the Event Hubs message is scanned for its `new JProperty("name", ...)` calls, whose nesting
gives the field paths of the emitted JSON.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
POLICIES = INFRA / "apim" / "policies"
CAPTURE_FRAGMENT = POLICIES / "fragment-capture-v1.xml"
INBOUND_FRAGMENT = POLICIES / "fragment-capture-inbound-v1.xml"
API_POLICY = POLICIES / "api-azure-openai.xml"

# The field paths of ../shared/contracts/capture-event-v1.md (the contract), copied here so the test does
# not depend on files outside the repository. `error` is null in outbound and an object in on-error.
CAPTURE_V1_PATHS = {
    "schema",
    "id",
    "time",
    "gateway",
    "gateway.service",
    "gateway.region",
    "api",
    "api.id",
    "api.operation",
    "api.version",
    "deployment",
    "caller",
    "caller.ip",
    "caller.subscriptionId",
    "caller.subscriptionName",
    "caller.productId",
    "caller.userId",
    "caller.userName",
    "caller.appId",
    "caller.tenantId",
    "backend",
    "backend.id",
    "backend.url",
    "request",
    "request.method",
    "request.path",
    "request.contentType",
    "request.size",
    "request.body",
    "request.bodyRef",
    "response",
    "response.status",
    "response.contentType",
    "response.size",
    "response.headers",
    "response.body",
    "response.bodyRef",
    "timing",
    "timing.totalMs",
    "timing.backendMs",
    "error",
    "error.source",
    "error.reason",
    "error.message",
}

_PROPERTY = re.compile(r'new\s+JProperty\(\s*"([^"]+)"')


def _all_xml_files() -> list[Path]:
    return sorted(INFRA.rglob("*.xml"))


def _closing_paren(text: str, open_index: int) -> int:
    """Index of the parenthesis closing the one at `open_index`, skipping C# string literals."""
    depth = 0
    i = open_index
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise AssertionError(f"unbalanced parentheses after offset {open_index}")


def emitted_paths(expression: str) -> set[str]:
    """Dotted paths of the JSON built by nested `new JProperty("name", new JObject(...))` calls."""
    spans = []
    for match in _PROPERTY.finditer(expression):
        open_index = expression.index("(", match.start())
        spans.append((match.group(1), open_index, _closing_paren(expression, open_index)))
    paths = set()
    for name, start, end in spans:
        parents = [other for other in spans if other[1] < start and end <= other[2]]
        parents.sort(key=lambda span: span[1])
        paths.add(".".join([parent[0] for parent in parents] + [name]))
    return paths


def _capture_logger() -> ET.Element:
    loggers = list(ET.parse(CAPTURE_FRAGMENT).getroot().iter("log-to-eventhub"))
    assert len(loggers) == 1, "the capture fragment sends exactly one Event Hubs message"
    return loggers[0]


def test_policy_files_exist():
    for path in (API_POLICY, CAPTURE_FRAGMENT, INBOUND_FRAGMENT):
        assert path.is_file(), f"missing {path.relative_to(INFRA.parent)}"


@pytest.mark.parametrize("path", _all_xml_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_infra_xml_file_is_well_formed(path: Path):
    ET.parse(path)  # raises ParseError with line and column when malformed


def test_capture_event_emits_every_contract_field_under_its_exact_name():
    expression = _capture_logger().text or ""
    emitted = emitted_paths(expression)
    missing = sorted(CAPTURE_V1_PATHS - emitted)
    unexpected = sorted(emitted - CAPTURE_V1_PATHS)
    assert not missing, f"capture/v1 fields not emitted: {missing}"
    assert not unexpected, f"fields emitted that capture/v1 does not define: {unexpected}"


def test_capture_event_declares_its_schema():
    expression = _capture_logger().text or ""
    assert re.search(r'new\s+JProperty\(\s*"schema"\s*,\s*"aoai-ledger/capture/v1"\s*\)', expression)
    assert re.search(r'new\s+JProperty\(\s*"id"\s*,\s*context\.RequestId\.ToString\(\)\s*\)', expression)


def test_capture_event_is_partitioned_by_request_id_on_the_ledger_logger():
    logger = _capture_logger()
    assert logger.get("logger-id") == "ledger-capture"
    assert logger.get("partition-key") == "@(context.RequestId.ToString())"
    assert logger.get("partition-id") is None


def test_path_scanner_follows_nesting():
    expression = 'new JObject(new JProperty("a", new JObject(new JProperty("b", ")("))), new JProperty("c", 1))'
    assert emitted_paths(expression) == {"a", "a.b", "c"}


def test_bodies_are_read_as_raw_text_without_consuming_them():
    inbound = INBOUND_FRAGMENT.read_text()
    capture = CAPTURE_FRAGMENT.read_text()
    assert "context.Request.Body.As&lt;string&gt;(preserveContent: true)" in inbound
    assert "context.Response.Body.As&lt;string&gt;(preserveContent: true)" in capture


def test_large_bodies_go_to_blob_storage_with_managed_identity():
    root = ET.parse(CAPTURE_FRAGMENT).getroot()
    requests = list(root.iter("send-request"))
    assert len(requests) == 2, "one claim-check upload for the request body, one for the response body"
    for send in requests:
        assert send.findtext("set-method") == "PUT"
        assert "blob.core.windows.net/bodies/" in (send.findtext("set-url") or "")
        headers = {header.get("name"): header.findtext("value") for header in send.iter("set-header")}
        assert headers.get("x-ms-blob-type") == "BlockBlob"
        assert headers.get("x-ms-version")
        identity = send.find("authentication-managed-identity")
        assert identity is not None and identity.get("resource") == "https://storage.azure.com/"
    assert '"bodies/" + context.RequestId.ToString() + "-request"' in CAPTURE_FRAGMENT.read_text()
    assert '"bodies/" + context.RequestId.ToString() + "-response"' in CAPTURE_FRAGMENT.read_text()


def test_capture_fragment_runs_in_outbound_and_on_error():
    root = ET.parse(API_POLICY).getroot()
    for section in ("outbound", "on-error"):
        included = [node.get("fragment-id") for node in root.find(section).iter("include-fragment")]
        assert "ledger-capture-v1" in included, f"{section} does not include the capture fragment"
    inbound = [node.get("fragment-id") for node in root.find("inbound").iter("include-fragment")]
    assert "ledger-capture-inbound-v1" in inbound


def test_api_policy_gates_tokens_identity_and_backend():
    root = ET.parse(API_POLICY).getroot()
    inbound = root.find("inbound")
    assert inbound.find(".//validate-azure-ad-token") is not None
    identity = inbound.find("authentication-managed-identity")
    assert identity is not None and identity.get("resource") == "https://cognitiveservices.azure.com"
    assert inbound.find("set-backend-service").get("backend-id") == "aoai-pool"
    limit = inbound.find("llm-token-limit")
    assert "context.Subscription" in limit.get("counter-key")
    assert limit.get("tokens-per-minute") == "{{ledger-tokens-per-minute}}"
    assert limit.get("token-quota") == "{{ledger-token-quota}}"
    assert limit.get("token-quota-period") == "{{ledger-token-quota-period}}"
    dimensions = {d.get("name") for d in inbound.find("llm-emit-token-metric").iter("dimension")}
    assert {"Subscription ID", "User ID", "Client IP"} <= dimensions


def test_backend_forwards_once_inside_the_retry_and_never_buffers_streams():
    root = ET.parse(API_POLICY).getroot()
    retry = root.find("backend/retry")
    assert "429" in retry.get("condition") and "503" in retry.get("condition")
    assert [child.tag for child in retry] == ["set-backend-service", "set-variable", "forward-request"]
    assert retry.find("set-variable").get("name") == "ledger-backend-called"
    assert retry.find("forward-request").get("buffer-response") == "false"


def test_a_stream_body_is_read_only_when_capture_stream_bodies_is_on():
    reader = next(
        node
        for node in ET.parse(CAPTURE_FRAGMENT).getroot().iter("set-variable")
        if node.get("name") == "ledger-response-body"
    )
    expression = reader.get("value")
    assert '"{{capture-stream-bodies}}"' in expression
    assert 'contentType.StartsWith("text/event-stream") && !captureStreams) { return ""; }' in expression


def test_capture_event_names_the_pool_member_the_request_went_to():
    expression = _capture_logger().text or ""
    assert "aoai-pool" not in expression, "backend.id must be the pool member, not the pool"
    assert 'context.Variables.ContainsKey("ledger-backend-called")' in expression
    assert "context.Request.Url.Host.Split('.')[0]" in expression
    assert re.search(r'new JProperty\("id", backendId\)', expression)


def test_capture_time_is_the_receipt_timestamp_in_iso_utc():
    expression = _capture_logger().text or ""
    iso_utc = "yyyy-MM-dd'T'HH':'mm':'ss'.'fff'Z'"  # quoted separators: the same text in every culture
    assert f'new JProperty("time", context.Timestamp.ToString("{iso_utc}"))' in expression


def test_error_comes_from_last_error():
    expression = _capture_logger().text or ""
    for part in ("Source", "Reason", "Message"):
        assert f"context.LastError.{part}" in expression
