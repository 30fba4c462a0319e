"""CSV that is safe to open in a spreadsheet: the one writer every CSV the app produces goes through.

Group keys (deployment, user, app, IP as the gateway reported them) are caller-controlled text, and Excel runs a
cell that begins with `=`, `+`, `-` or `@` (or tab / carriage return before one) as a formula: `=HYPERLINK(...)`
in a deployment name would become a link in the finance team's chargeback sheet. Following OWASP's CSV
injection guidance (https://owasp.org/www-community/attacks/CSV_Injection), such a cell is prefixed with a
single quote, which spreadsheets show as text; numbers (`-3`, `+1.5e3`) are left as they are, so they still
add up, and the csv module quotes every separator and quote inside a cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def spreadsheet_safe(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet runs as a formula: None as empty, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header of `columns` and a line per row (keys outside `columns` ignored), CRLF line ends as RFC 4180 has."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(column) for column in columns])
    writer.writerows([spreadsheet_safe(row.get(column)) for column in columns] for row in rows)
    return buffer.getvalue()
