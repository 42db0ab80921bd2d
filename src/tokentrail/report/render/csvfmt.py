"""The report as one CSV table in long form, one cell per line, so that a spreadsheet can
filter it: ``section,table,row,column,value``. The row is the table's first cell (a feature, a
user, an hour...); values are raw numbers (USD, tokens, ratios 0-1) and ISO 8601 times, empty
when unknown. Summary lines and notes have column ``summary`` / ``note``; an omitted section
has one line with column ``omitted``."""

from __future__ import annotations

import csv
import io

from ..model import Report
from .tables import blocks

HEADER = ["section", "table", "row", "column", "value"]


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for section, block in zip(report.ordered(), blocks(report), strict=True):
        if block.omitted is not None:
            writer.writerow([section.key, "", "", "omitted", block.omitted])
            continue
        for line in block.lines:
            writer.writerow([section.key, "", "", "summary", line])
        for table in block.tables:
            for row in table.rows:
                for column, value in zip(table.columns[1:], row[1:], strict=True):
                    cell = "" if value is None else value
                    writer.writerow([section.key, table.title, row[0], column, cell])
        for note in block.notes:
            writer.writerow([section.key, "", "", "note", note])
    for error in report.errors:
        writer.writerow(["errors", "", "", "error", error])
    return out.getvalue()
