"""The report as one self-contained HTML file: styles inline, charts as inline SVG, no script,
no font or image to fetch, so it opens offline and can be mailed or attached to a ticket."""

from __future__ import annotations

from html import escape

from ..model import Report
from . import charts
from .tables import Block, Table, blocks, header_lines, money, percent

#: section title -> the charts shown in it
SECTION_CHARTS = {
    "Trend": ("cost-trend", "cost-by-feature"),
    "Projection": ("projection",),
    "Efficiency": ("efficiency",),
}

STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
       background: #f5f7fa; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 16px 0 6px; color: #52606d; text-transform: uppercase;
     letter-spacing: .04em; }
.meta { color: #7b8794; margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
         margin: 20px 0; }
.card, section { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px; }
.card { padding: 12px 16px; }
.card b { display: block; font-size: 22px; }
.card span { color: #7b8794; font-size: 12px; }
section { padding: 18px 20px; margin: 16px 0; }
section.omitted { color: #7b8794; }
figure { margin: 12px 0; }
figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-bottom: 4px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e4e7eb; text-align: left;
         white-space: nowrap; }
th { color: #52606d; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
ul.notes { padding-left: 18px; }
ul.notes li { margin: 4px 0; color: #8a4b08; }
details { margin-top: 10px; }
summary { cursor: pointer; color: #52606d; font-weight: 600; font-size: 13px; }
.errors { border-color: #f8b4b4; background: #fff5f5; }
"""


def _table(table: Table) -> str:
    numeric = table.numeric
    head = "".join(
        f'<th class="n">{escape(c)}</th>' if i in numeric else f"<th>{escape(c)}</th>"
        for i, c in enumerate(table.headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in table.cells()
    )
    return (
        f"<h3>{escape(table.title)}</h3><div class=scroll><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _section(block: Block, svgs: dict[str, str]) -> str:
    if block.omitted is not None:
        return (
            f'<section class="omitted"><h2>{escape(block.title)}</h2>'
            f"<p>Omitted: {escape(block.omitted)}</p></section>"
        )
    parts = [f"<section><h2>{escape(block.title)}</h2>"]
    parts += [f"<p>{escape(line)}</p>" for line in block.lines]
    for stem in SECTION_CHARTS.get(block.title, ()):
        if stem in svgs:
            parts.append(
                f'<figure aria-label="{escape(charts.CHARTS[stem])}">{svgs[stem]}</figure>'
            )
    # long sections keep their first two tables open; the rest fold away (no script needed)
    for i, table in enumerate(block.tables):
        if len(block.tables) > 3 and i >= 2:
            parts.append(
                f"<details><summary>{escape(table.title)}</summary>{_table(table)}</details>"
            )
        else:
            parts.append(_table(table))
    if block.notes:
        parts.append(
            "<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in block.notes) + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def _cards(report: Report) -> str:
    cards = []
    totals = report.sections["totals"].data
    if totals:
        cards.append((money(totals["cost_usd"]), "spent in the range"))
        cards.append((f"{totals['requests']:,.0f}", "requests"))
    trend = report.sections["trend"].data
    if trend and trend["growth"].get("week_over_week") is not None:
        cards.append((percent(trend["growth"]["week_over_week"], signed=True), "week over week"))
    projection = report.sections["projection"].data
    if projection:
        figure = projection["month_end_at_growth_usd"] or projection["month_end_at_rate_usd"]
        cards.append((money(figure), f"projected for {projection['month']}"))
    anomalies = report.sections["anomalies"].data
    if anomalies:
        cards.append((str(len(anomalies["anomalies"])), "anomalous hours"))
    users = report.sections["top_users"].data
    if users:
        cards.append((f"{users['users']:,}", "users in the spans"))
    return (
        "<div class=cards>"
        + "".join(
            f"<div class=card><b>{escape(v)}</b><span>{escape(k)}</span></div>" for v, k in cards
        )
        + "</div>"
    )


def render(report: Report) -> str:
    try:
        svgs = {stem: charts.svg(fig) for stem, fig in charts.figures(report).items()}
    except charts.ChartsUnavailable:
        svgs = {}
    head = header_lines(report)
    body = [
        "<main>",
        "<h1>tokentrail cost report</h1>",
        *(f"<p class=meta>{escape(line)}</p>" for line in head),
        _cards(report),
        *(_section(b, svgs) for b in blocks(report)),
    ]
    if report.errors:
        body.append(
            '<section class="errors"><h2>Errors</h2><ul>'
            + "".join(f"<li>{escape(e)}</li>" for e in report.errors)
            + "</ul></section>"
        )
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tokentrail cost report {escape(head[0])}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
