"""The dashboard's figures as text and its SVG chart: money with the digits that make it true, zero days drawn as
zero, and day labels a narrow screen can thin out."""

from __future__ import annotations

import re

from shared.api.dashboard_chart import compact, day_chart, money


def test_money_keeps_the_digits_that_make_it_true():
    assert [money(v) for v in (1234.5, 1, 0.0523, 0.00012, 0.0, None)] == [
        "$1,234.50",
        "$1.00",
        "$0.0523",
        "$0.000120",
        "$0.00",
        "unpriced",
    ]
    assert [compact(v) for v in (950, 1200, 5_600_000, 2_000_000_000)] == ["950", "1.2k", "5.6M", "2G"]


def _day(day: int, tokens: int, cost: float | None, calls: int = 1) -> dict:
    return {"time": f"2026-11-{day:02d}T00:00:00Z", "totalTokens": tokens, "costUsd": cost, "requests": calls}


def test_days_without_calls_are_bars_of_zero_and_the_cost_line_touches_zero():
    svg = day_chart([_day(1, 300, 0.5), _day(2, 0, None, 0), _day(3, 150, 0.25)])
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([\d.]+)"', svg)]
    assert heights[1] == 0 and heights[0] == 2 * heights[2] > 0
    points = re.search(r'<polyline class="cost" points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3 and points[1].endswith(",252.0")  # the zero day's cost sits on the axis
    assert "2026-11-02: 0 tokens, 0 calls, unpriced" in svg
    assert svg.startswith('<svg class="chart" viewBox="0 0 960 300"')  # scales to any width


def test_a_long_range_keeps_few_labels_and_marks_the_ones_a_narrow_screen_keeps():
    svg = day_chart([_day(1 + i % 28, i, 0.1) for i in range(90)])
    labels = re.findall(r'<text class="(major|minor)"', svg)
    assert len(labels) <= 16 and 3 <= labels.count("major") <= 6
