"""The dashboard's tokens-and-cost-per-day chart as inline SVG: bars for tokens, a line for cost, no script.

The SVG scales with its viewBox to any width; on a narrow screen CSS (in `dashboard_page`) enlarges its text
and hides the minor day labels, so the chart stays readable at 400 px without a second drawing.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 40, 920, 48, 252  # the plot area, in viewBox units
_MAJOR_LABELS = 6  # day labels kept on a narrow screen


def charged_usd(row: dict[str, Any]) -> float | None:
    """What a row is charged: with LEDGER_PTU_FILE its per-token cost plus its share of provisioned hours."""
    return row["chargebackUsd"] if "chargebackUsd" in row else row["costUsd"]


def compact(value: float) -> str:
    """1234 -> 1.2k, 5600000 -> 5.6M: an axis label, not a figure (the figures are in the table)."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.0f}"


def money(value: float | None) -> str:
    """USD with the digits that make it true: $1,234.56, $0.0523, $0.000120; None (no price known) as such."""
    if value is None:
        return "unpriced"
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}"


def day_chart(days: list[dict[str, Any]]) -> str:
    """The SVG of one row per day (`time`, `totalTokens`, `costUsd`, `requests`); days without calls are zeros."""
    if not days:
        return ""
    tokens = [int(day["totalTokens"]) for day in days]
    costs = [float(charged_usd(day) or 0.0) for day in days]
    top_tokens, top_cost = max(tokens) or 1, max(costs) or 1.0
    slot = (RIGHT - LEFT) / len(days)
    height = BOTTOM - TOP
    every = max(1, round(len(days) / 15))  # at most ~15 day labels on a wide screen
    major = every * max(1, -(-len(days) // (every * _MAJOR_LABELS)))  # a multiple of `every`: majors are labels
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="tokens and cost per day">',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{RIGHT}" y2="{TOP}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}"/>',
        f'<text class="tokens-label" x="{LEFT}" y="{TOP - 10}">{escape(compact(max(tokens)))} tokens</text>',
        f'<text class="cost-label" x="{RIGHT}" y="{TOP - 10}" text-anchor="end">{escape(money(max(costs)))}</text>',
    ]
    points = []
    for i, (day, count, cost) in enumerate(zip(days, tokens, costs, strict=True)):
        x = LEFT + i * slot
        bar = height * count / top_tokens
        date = str(day["time"])[:10]
        tip = f"{date}: {count:,} tokens, {int(day['requests']):,} calls, {money(charged_usd(day))}"
        parts.append(
            f'<g><title>{escape(tip)}</title><rect class="bar" x="{x + slot * 0.15:.1f}" y="{BOTTOM - bar:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar:.1f}"/></g>'
        )
        points.append((x + slot / 2, BOTTOM - height * cost / top_cost))
        if i % every == 0:
            kind = "major" if i % major == 0 else "minor"
            parts.append(
                f'<text class="{kind}" x="{x + slot / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
                f"{escape(date[5:])}</text>"
            )
    parts.append(f'<polyline class="cost" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')
    parts.extend(f'<circle class="cost" cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in points)
    parts.append("</svg>")
    return "".join(parts)


CHART_CSS = """
svg.chart{width:100%;height:auto;display:block}svg.chart text{font-size:14px;fill:#57606a}
svg.chart rect.bar{fill:#0969da}svg.chart rect.bar:hover{fill:#0550ae}
svg.chart polyline.cost{fill:none;stroke:#bc4c00;stroke-width:2.5}svg.chart circle.cost{fill:#bc4c00}
svg.chart .grid{stroke:#d0d7de;stroke-dasharray:4 4}svg.chart .axis{stroke:#8c959f}
@media (max-width:640px){svg.chart text{font-size:30px}svg.chart text.minor{display:none}
svg.chart circle.cost{r:5}svg.chart polyline.cost{stroke-width:4}}
"""
