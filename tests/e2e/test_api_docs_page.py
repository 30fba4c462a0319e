"""`/api/docs` as a person sees it: the local host serves it, headless Chromium renders it."""

from __future__ import annotations

import re
from html import unescape

from shared.api.manifest import ROUTE_TABLE
from tests.local_host import local_host, rendered_dom, screenshot
from tests.net import http_call


def test_the_docs_page_renders_every_route_and_how_to_get_a_token(tmp_path):
    with local_host(tmp_path) as (base, _log):
        status, _ = http_call(f"{base}/api/docs")
        assert status == 200
        dom = rendered_dom(f"{base}/api/docs", tmp_path)
        shot = screenshot(f"{base}/api/docs", tmp_path / "docs.png")
    text = unescape(re.sub(r"<[^>]+>", " ", dom))
    for method, path in ROUTE_TABLE.values():
        assert re.search(rf"{method}\s+/api/{re.escape(path)}(?![\w/.])", text), (
            f"{method} /api/{path} is not on the page"
        )
    assert "az account get-access-token --resource api://<client-id>" in text
    assert "grant_type=client_credentials" in text and "X-MS-CLIENT-PRINCIPAL" in text and "LEDGER_AUTH=dev" in text
    assert not re.search(r"<(script|link)\b|src=\"https?:", dom)  # no script, no external asset
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_docs_page_is_served_while_the_store_is_down(tmp_path):
    with local_host(tmp_path, LEDGER_SQL_URL="postgresql+psycopg://ledger@127.0.0.1:9/ledger") as (base, _log):
        status, body = http_call(f"{base}/api/docs")
    assert status == 200 and b"Getting a token" in body
