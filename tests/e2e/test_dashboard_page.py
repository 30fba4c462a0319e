"""`/api/dashboard` as people see it: the local host serves it behind a front door that signs the browser in
(as App Service Authentication does), headless Chromium renders it at laptop and phone widths, and the rendered
DOM is held to the API's figures and to the caller's role."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.integration.test_dashboard import HOSTILE, seed
from tests.integration.test_usage_api import principal
from tests.local_host import front_door, local_host, rendered_dom, screenshot
from tests.net import http_call

PNG = b"\x89PNG\r\n\x1a\n"


def _totals(dom: str) -> dict[str, str]:
    return dict(re.findall(r'id="total-(\w+)" data-value="([^"]*)"', dom))


def _usage_totals(base: str, dom: str) -> dict:
    """The `/api/usage` totals of the range and filters the page's CSV link names."""
    link = unescape(re.search(r'href="(usage\?format=csv[^"]*groupBy=day)"', dom).group(1))
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items() if k not in ("format", "groupBy")}
    status, body = http_call(f"{base}/api/usage?{urlencode(query)}")
    assert status == 200, body[:300]
    return json.loads(body)["totals"]


def test_the_dashboard_shows_the_api_figures_and_a_usage_read_caller_only_their_own(tmp_path, store):
    seed(store)
    shots = []
    with (
        local_host(tmp_path, LEDGER_AUTH="easyauth", LEDGER_EASYAUTH_TRUSTED="true") as (base, _log),
        front_door(base, principal("oid-admin", "Ledger.Admin")) as admin,
        front_door(base, principal("oid-ana", "Usage.Read")) as ana,
    ):
        status, _ = http_call(f"{base}/admin/functions/quota_check", b"{}", "POST")  # a quota alert to list
        assert status in (200, 202)
        page = f"{admin}/api/dashboard?period=30d"
        dom = rendered_dom(page, tmp_path)
        shots.append(screenshot(page, tmp_path / "dashboard.png", "1280,1900"))
        shots.append(screenshot(page, tmp_path / "dashboard-400.png", "400,2600"))
        usage = _usage_totals(admin, dom)
        own_dom = rendered_dom(f"{ana}/api/dashboard?period=30d", tmp_path)
        shots.append(screenshot(f"{ana}/api/dashboard?period=30d", tmp_path / "dashboard-usage-read.png", "1280,1300"))
        own_usage = _usage_totals(ana, own_dom)

    totals = _totals(dom)
    assert int(totals["requests"]) == usage["requests"] == 24
    assert int(totals["totalTokens"]) == usage["totalTokens"] and float(totals["costUsd"]) == usage["costUsd"]
    assert int(totals["failureRate"]) == usage["failedRequests"]
    assert int(totals["estimatedTokensRequests"]) == usage["estimatedTokensRequests"]
    text = unescape(re.sub(r"<[^>]+>", " ", dom))
    for shown in ("ana@contoso.com", "ben@contoso.com", HOSTILE, "Quotas", "Recent alerts", "Open dead letters"):
        assert shown in text, shown
    assert re.search(r'id="dead-letters-open">1<', dom)
    assert re.search(r"<td>quota</td>", dom)  # the quota check's alert is listed
    assert not re.search(
        r"<(script|link|img)\b|src=\"https?:", dom
    )  # no script, no external asset, no markup from names

    own = _totals(own_dom)
    assert int(own["requests"]) == own_usage["requests"] == 8
    for other in ("ben@contoso.com", "oid-ben", "oid-eve", "&lt;script", "Quotas", "Recent alerts", "dead letters"):
        assert other not in own_dom, other

    for shot in shots:
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == PNG
    (tmp_path / "screenshots.txt").write_text("".join(f"{shot}\n" for shot in shots))
    print("\ndashboard screenshots:\n  " + "\n  ".join(str(shot) for shot in shots))
