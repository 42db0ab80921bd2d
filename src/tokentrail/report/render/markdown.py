"""The report as GitHub-flavoured markdown (for a wiki page, an issue or a pull request)."""

from __future__ import annotations

from ..model import Report
from .tables import Table, blocks, header_lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(table: Table) -> list[str]:
    align = ["---:" if i in table.numeric else "---" for i in range(len(table.columns))]
    return [
        f"**{table.title}**",
        "",
        "| " + " | ".join(_cell(c) for c in table.headers) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.cells()),
    ]


def render(report: Report) -> str:
    head = header_lines(report)
    out = ["# tokentrail cost report", "", *(f"{line}  " for line in head)]
    for block in blocks(report):
        out += ["", f"## {block.title}", ""]
        if block.omitted is not None:
            out.append(f"*Omitted: {block.omitted}*")
            continue
        out += block.lines
        for table in block.tables:
            out += ["", *_table(table)]
        if block.notes:
            out.append("")
            out += [f"- {note}" for note in block.notes]
    if report.errors:
        out += ["", "## Errors", ""] + [f"- {e}" for e in report.errors]
    return "\n".join(out) + "\n"
