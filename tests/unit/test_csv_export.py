"""CSV cells a spreadsheet would run as formulas are neutralised (OWASP CSV injection); numbers stay numbers."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from shared.reports.csv_export import FORMULA_STARTS, csv_text, spreadsheet_safe


def test_cells_that_start_a_formula_get_a_leading_quote_and_numbers_do_not():
    assert spreadsheet_safe('=HYPERLINK("http://evil.example","open")') == '\'=HYPERLINK("http://evil.example","open")'
    assert [spreadsheet_safe(v) for v in ("+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1")] == [
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    assert [spreadsheet_safe(v) for v in ("-3", "+1.5e3", "-.5", -7, 2.5, None, "gpt-4o", "")] == [
        "-3",
        "+1.5e3",
        "-.5",
        -7,
        2.5,
        "",
        "gpt-4o",
        "",
    ]
    assert spreadsheet_safe("-\u0663") == "'-\u0663"  # a Unicode digit is not a number to a spreadsheet


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_no_cell_of_any_csv_begins_a_formula_and_every_value_reads_back(values):
    columns = [f"c{i}" for i in range(len(values))]
    text = csv_text(columns, [dict(zip(columns, values, strict=True))])
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    assert header == columns
    for cell, value in zip(row, values, strict=True):
        assert not cell.startswith(FORMULA_STARTS) or _a_number(cell), cell
        assert cell == value or cell == "'" + value


def _a_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.isascii()
