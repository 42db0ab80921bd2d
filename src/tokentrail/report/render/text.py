"""The report for a terminal (and for markdown, which lays out the same blocks)."""

from __future__ import annotations

from ..model import Report
from .tables import Block, Table, blocks, header_lines

_SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 72


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """``values`` summed into at most ``width`` cells, drawn with block characters."""
    if not values:
        return ""
    per = -(-len(values) // width)
    cells = [sum(values[i : i + per]) for i in range(0, len(values), per)]
    top = max(cells)
    if top <= 0:
        return _SPARKS[0] * len(cells)
    return "".join(_SPARKS[min(7, int(v / top * 7.999))] for v in cells)


def _table(table: Table, indent: str = "  ") -> list[str]:
    rows = [table.headers, *table.cells()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(table.columns))]

    def line(row: list[str]) -> str:
        cells = (
            c.rjust(w) if i in table.numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return (indent + "  ".join(cells)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return [f"{indent}{table.title}", line(table.headers), rule, *(line(r) for r in rows[1:])]


def _block(block: Block) -> list[str]:
    out = [block.title.upper(), ""]
    if block.omitted is not None:
        return [*out, f"  (omitted: {block.omitted})"]
    out += [f"  {line}" for line in block.lines]
    for table in block.tables:
        out += ["", *_table(table)] if block.lines else _table(table)
    if block.notes:
        out.append("")
        out += [f"  ! {note}" for note in block.notes]
    return out


def render(report: Report) -> str:
    head = header_lines(report)
    out = [f"tokentrail report — {head[0]}", *head[1:]]
    trend = report.sections.get("trend")
    for block in blocks(report):
        lines = _block(block)
        if block.omitted is None and trend is not None and block.title == trend.title:
            values = [v for _, v in (trend.data or {}).get("overall", [])]
            lines.insert(2, f"  {sparkline(values)}")  # under the title
        out += ["", *lines]
    if report.errors:
        out += ["", "ERRORS", ""] + [f"  {e}" for e in report.errors]
    return "\n".join(out) + "\n"
