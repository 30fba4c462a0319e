"""`GET /api/docs`: the OpenAPI document as a page a person reads, rendered here from the document itself.

No script, no external asset (the app sits in a private network, so no CDN): one HTML page with inline CSS,
a table of contents, how to get a token in each identity mode, then every operation with its roles,
parameters and answers. Built from `openapi_document()`, so it cannot drift from the API.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from shared.api.auth import Caller
from shared.api.http import ApiRequest, ApiResponse
from shared.api.openapi import openapi_document
from shared.api.routes import ApiContext, Route, register

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:36px}
code,pre{font:13px/1.45 ui-monospace,Consolas,monospace;background:#eef1f4;border-radius:4px}
code{padding:1px 4px}pre{padding:10px;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#eef1f4}
.op{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 16px;margin:16px 0}
.method{display:inline-block;min-width:64px;font-weight:700;color:#fff;border-radius:4px;padding:0 6px;
text-align:center;margin-right:8px}.get{background:#0969da}.put{background:#9a6700}.post{background:#1a7f37}
.delete{background:#cf222e}.roles{color:#57606a}nav ul{columns:2}
"""


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _schema_text(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "object")
    kind = " | ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        return f"{kind}, one of " + ", ".join(_code(str(v)) for v in schema["enum"])
    items = schema.get("items")
    if kind == "array" and isinstance(items, dict) and "enum" in items:
        return "comma-separated list of " + ", ".join(_code(str(v)) for v in items["enum"])
    return escape(kind + (f" ({schema['format']})" if "format" in schema else ""))


def _parameters(parameters: list[dict[str, Any]]) -> str:
    if not parameters:
        return "<p>No parameters.</p>"
    rows = "".join(
        f"<tr><td>{_code(p['name'])}{' (required)' if p.get('required') else ''}</td><td>{escape(p['in'])}</td>"
        f"<td>{_schema_text(p.get('schema', {}))}</td><td>{escape(p.get('description', ''))}</td></tr>"
        for p in parameters
    )
    return f"<table><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr>{rows}</table>"


def _responses(responses: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(status)}</td><td>{escape(answer.get('description', ''))}</td>"
        f"<td>{escape(', '.join(answer.get('content', {})))}</td></tr>"
        for status, answer in sorted(responses.items())
    )
    return f"<table><tr><th>status</th><th>meaning</th><th>content</th></tr>{rows}</table>"


def _anchor(method: str, path: str) -> str:
    return f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").replace(".", "-")


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    roles = op.get("x-roles")
    who = (
        ("Roles: " + ", ".join(_code(r) for r in roles) + " (Ledger.Admin may do everything)")
        if roles
        else "Anonymous."
    )
    body = ""
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        body = f"<h4>JSON body</h4><pre>{escape(json.dumps(schema, indent=2))}</pre>"
    return (
        f'<section class="op" id="{_anchor(method, path)}"><h3><span class="method {method}">{method.upper()}</span>'
        f'{_code(path)}</h3><p>{escape(op.get("summary", ""))}</p><p class="roles">{who}</p>'
        f"<h4>Parameters</h4>{_parameters(op.get('parameters', []))}{body}"
        f"<h4>Answers</h4>{_responses(op.get('responses', {}))}</section>"
    )


# Client credentials ask for "<application ID URI>/.default"
# (https://learn.microsoft.com/en-us/entra/identity-platform/scenario-daemon-acquire-token); App Service
# Authentication hands the app the caller in X-MS-CLIENT-PRINCIPAL, a header callers cannot set
# (https://learn.microsoft.com/en-us/azure/app-service/configure-authentication-user-identities).
_TOKENS = """
<h2 id="tokens">Getting a token</h2>
<p>The app runs in one identity mode, set by <code>LEDGER_AUTH</code>. Each route below names the roles it needs
(app roles of the API's Entra application: <code>Usage.Read</code> (own usage), <code>Usage.ReadAll</code>,
<code>Audit.Read</code>, <code>Ledger.Admin</code>).</p>
<h3><code>LEDGER_AUTH=jwt</code>: an Entra ID access token</h3>
<p>The audience is the API's application ID URI (the app's <code>LEDGER_JWT_AUDIENCE</code>,
e.g. <code>api://&lt;client-id&gt;</code>). As a person, with the Azure CLI:</p>
<pre>TOKEN=$(az account get-access-token --resource api://&lt;client-id&gt; --query accessToken -o tsv)
curl -H "Authorization: Bearer $TOKEN" "https://&lt;app&gt;/api/usage?groupBy=model"</pre>
<p>As a program (a daemon with its own app registration, given an app role of the API), with the client
credentials flow; the scope is the application ID URI followed by <code>/.default</code>:</p>
<pre>curl -s -X POST "https://login.microsoftonline.com/&lt;tenant-id&gt;/oauth2/v2.0/token" \\
  -d grant_type=client_credentials -d client_id=&lt;caller-client-id&gt; \\
  --data-urlencode client_secret=&lt;secret&gt; --data-urlencode "scope=api://&lt;client-id&gt;/.default"</pre>
<p>A managed identity in Azure gets the same token for the resource <code>api://&lt;client-id&gt;</code>.</p>
<h3><code>LEDGER_AUTH=easyauth</code>: App Service Authentication</h3>
<p>App Service Authentication in front of the app signs people in (open <code>/.auth/login/aad</code> in a
browser) or validates a bearer token a client sends (get one as for <code>jwt</code> above), then passes the
identity to the app in <code>X-MS-CLIENT-PRINCIPAL</code>; callers never set that header themselves.</p>
<h3><code>LEDGER_AUTH=dev</code>: the local host</h3>
<p>Every caller is an admin, no token needed: only for <code>python -m devhost serve</code> on 127.0.0.1 (the app
refuses this mode on Azure and on any other address).</p>
<pre>curl "http://127.0.0.1:7071/api/usage?groupBy=user"</pre>
"""


def docs_html(document: dict[str, Any]) -> str:
    """The whole page for an OpenAPI document."""
    info = document.get("info", {})
    operations = [
        (path, method, op) for path, methods in document.get("paths", {}).items() for method, op in methods.items()
    ]
    contents = "".join(
        f'<li><a href="#{_anchor(m, p)}">{escape(m.upper())} {escape(p)}</a></li>' for p, m, _ in operations
    )
    sections = "".join(_operation(p, m, op) for p, m, op in operations)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(info.get('title', 'API'))}</h1><p>{escape(info.get('description', ''))}</p>"
        f'<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI {escape(document.get("openapi", ""))}).</p>'
        f'<nav><h2>Contents</h2><ul><li><a href="#tokens">Getting a token</a></li>{contents}</ul></nav>'
        f"{_TOKENS}<h2>Routes</h2>{sections}</main></body></html>"
    )


def _docs(_context: ApiContext, _request: ApiRequest, _caller: Caller | None, _values: dict[str, Any]) -> ApiResponse:
    return ApiResponse(
        200,
        docs_html(openapi_document()).encode(),
        "text/html; charset=utf-8",
        {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


register(
    Route(
        name="docs",
        method="GET",
        path="docs",
        roles=None,
        params=(),
        handler=_docs,
        uses_store=False,
        summary="This API's documentation as a page to read, with how to get a token in each identity mode",
        responses={"200": {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
    )
)
