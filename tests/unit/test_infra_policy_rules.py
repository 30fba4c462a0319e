"""API Management refuses to save a policy whose expressions reach outside its allowed .NET types, that
forwards a request twice, or whose elements carry attributes or values their reference pages do not allow.

No APIM runs here, so these checks read infra/apim/policies against tables copied from Microsoft's pages
(tests/apim_reference.py). The second half shows that each check refuses the defect it guards, so the
file checks cannot pass by seeing nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apim_policy_lint import (
    Expression,
    attribute_problems,
    expression_problems,
    forward_request_problems,
    policy_expressions,
)

POLICIES = Path(__file__).resolve().parents[2] / "infra" / "apim" / "policies"
POLICY_FILES = sorted(POLICIES.glob("*.xml"))


def _name(path: Path) -> str:
    return path.name


def test_there_are_policy_files_with_expressions_to_check():
    assert len(POLICY_FILES) >= 3
    for path in POLICY_FILES:
        assert policy_expressions(path), f"{path.name}: no expressions found; the extractor is broken"


@pytest.mark.parametrize("path", POLICY_FILES, ids=_name)
def test_policy_expressions_use_only_the_allowed_dotnet_types_and_members(path: Path):
    problems = [problem for expression in policy_expressions(path) for problem in expression_problems(expression)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", POLICY_FILES, ids=_name)
def test_a_policy_document_forwards_at_most_once_from_its_backend_section(path: Path):
    problems = forward_request_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", POLICY_FILES, ids=_name)
def test_policy_elements_use_only_the_attributes_and_values_of_their_reference_pages(path: Path):
    problems = attribute_problems(path)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- each check refuses the defect it guards


@pytest.mark.parametrize(
    "code, refused",
    [
        ('context.Timestamp.ToUniversalTime().ToString("o")', "System.DateTime.ToUniversalTime"),
        (
            '{ DateTime at = context.Variables.GetValueOrDefault<DateTime>("t"); return at.ToLocalTime(); }',
            "System.DateTime.ToLocalTime",
        ),
        ("{ var now = DateTime.UtcNow; return now.ToUniversalTime(); }", "System.DateTime.ToUniversalTime"),
        ('DateTime.UtcNow.ToString("o", System.Globalization.CultureInfo.InvariantCulture)', "System.Globalization"),
        ("CultureInfo.InvariantCulture.Name", "CultureInfo"),
        ('System.IO.File.ReadAllText("/etc/passwd")', "System.IO.File"),
        ('Environment.GetEnvironmentVariable("PATH")', "Environment"),
        ('new System.Net.WebClient().DownloadString("https://example.com")', "System.Net.WebClient"),
        ('Regex.Escape("a.b")', "Regex.Escape"),
        ('JsonConvert.PopulateObject("{}", new JObject())', "JsonConvert.PopulateObject"),
        ("context.Request.Url.Hostname", "IUrl.Hostname"),
        ('((IResponse)context.Variables["put"]).StatusCodes', "IResponse.StatusCodes"),
    ],
)
def test_expression_check_refuses_what_apim_does_not_allow(code: str, refused: str):
    problems = expression_problems(Expression("probe", code))
    assert any(refused in problem for problem in problems), problems


@pytest.mark.parametrize(
    "code",
    [  # the examples of the policy-expressions page itself, and shapes our policies rely on
        "true",
        "(1+1).ToString()",
        '"Hi There".Length',
        'Regex.Match(context.Response.Headers.GetValueOrDefault("Cache-Control",""), @"max-age=(?<maxAge>\\d+)")'
        '.Groups["maxAge"]?.Value',
        'context.Variables.ContainsKey("maxAge") ? int.Parse((string)context.Variables["maxAge"]) : 3600',
        '{ string[] value; if (context.Request.Headers.TryGetValue("Authorization", out value)) { if (value != null '
        "&& value.Length > 0) { return Encoding.UTF8.GetString(Convert.FromBase64String(value[0])); } } return null; }",
        "context.Timestamp.ToString(\"yyyy-MM-dd'T'HH':'mm':'ss'.'fff'Z'\")",
        '(long)DateTime.UtcNow.Subtract(context.Variables.GetValueOrDefault<DateTime>("t", context.Timestamp))'
        ".TotalMilliseconds",
        '((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("oid", "")',
        'new JObject(new JProperty("a", JValue.CreateNull())).ToString(Newtonsoft.Json.Formatting.None)',
        '{ var xs = new List<string>(); return string.Join(",", xs.Select(x => x.Trim())); }',
    ],
)
def test_expression_check_accepts_what_the_reference_page_shows(code: str):
    assert expression_problems(Expression("probe", code)) == []


def _policy(tmp_path: Path, backend: str, inbound: str = "") -> Path:
    path = tmp_path / "policy.xml"
    path.write_text(
        f"<policies><inbound><base />{inbound}</inbound><backend>{backend}</backend>"
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )
    return path


def test_two_forward_requests_are_refused_even_in_exclusive_branches(tmp_path: Path):
    path = _policy(
        tmp_path,
        '<choose><when condition="@(true)"><forward-request buffer-response="false" /></when>'
        "<otherwise><forward-request /></otherwise></choose>",
    )
    assert any("2 forward-request" in problem for problem in forward_request_problems(path))


def test_forward_request_outside_the_backend_section_is_refused(tmp_path: Path):
    path = _policy(tmp_path, "<base />", inbound="<forward-request />")
    assert any("outside the backend" in problem for problem in forward_request_problems(path))


@pytest.mark.parametrize(
    "backend, refused",
    [
        ('<retry condition="@(true)" count="2" interval="0"><forward-request /></retry>', "interval='0'"),
        ('<retry condition="@(true)" count="51" interval="1"><forward-request /></retry>', "count='51'"),
        ('<retry condition="@(true)" count="2"><forward-request /></retry>', "interval is required"),
        ('<retry condition="@(true)" count="2" interval="1" backoff="2"><forward-request /></retry>', "'backoff'"),
        ('<forward-request buffer-response="@(true)" />', "buffer-response must be the literal"),
        ('<forward-request timeout="60" timeout-ms="60000" />', "exclusive"),
        ('<forward-request buffer-responses="false" />', "'buffer-responses'"),
        ('<send-one-way-request mode="new" />', "no reference page recorded"),
    ],
)
def test_attribute_check_refuses_what_the_reference_pages_do_not_allow(tmp_path: Path, backend: str, refused: str):
    problems = attribute_problems(_policy(tmp_path, backend))
    assert any(refused in problem for problem in problems), problems


@pytest.mark.parametrize(
    "inbound, refused",
    [
        (
            '<llm-token-limit counter-key="k" tokens-per-minute="1" estimate-prompt-tokens="false" '
            'remaining-tokens-variable="x" />',
            "'remaining-tokens-variable'",
        ),
        (
            '<llm-emit-token-metric namespace="n">' + '<dimension name="API ID" />' * 6 + "</llm-emit-token-metric>",
            "more than 5 dimensions",
        ),
    ],
)
def test_llm_policies_outside_their_reference_pages_are_refused(tmp_path: Path, inbound: str, refused: str):
    problems = attribute_problems(_policy(tmp_path, "<forward-request />", inbound=inbound))
    assert any(refused in problem for problem in problems), problems
