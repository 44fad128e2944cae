"""CSV for the reports: a table (a header row, then one row per item) as spreadsheets open it."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from rest_framework import renderers

# A cell starting with one of these is read as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _Line:
    """A file-like csv.writer writes into, handing back each line."""

    def write(self, line: str) -> str:
        return line


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """Each row as one CSV line, cells guarded against formulas; None is an empty cell."""
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def table(header: list[str], items: Iterable[dict]) -> Iterator[list]:
    """The header, then each item's values in the header's order."""
    yield header
    for item in items:
        yield [item.get(key) for key in header]


class CSVRenderer(renderers.BaseRenderer):
    """Renders a table (an iterable of rows, the header first) as `text/csv`; chosen by `?format=csv` or
    `Accept: text/csv`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return "".join(csv_lines(data)).encode(self.charset)
