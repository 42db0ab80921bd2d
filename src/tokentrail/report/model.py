"""The report as data: what every renderer reads and what ``--format json`` writes.

The JSON layout (``"schema": "tokentrail.report/1"``) is documented in docs/report.md and
stable: fields are only ever added within a schema version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "tokentrail.report/1"

#: section key -> title, in the order every format shows them
SECTIONS = {
    "totals": "Totals and breakdowns",
    "trend": "Trend",
    "projection": "Projection",
    "anomalies": "Anomalies",
    "efficiency": "Efficiency",
    "top_users": "Top users",
    "top_calls": "Most expensive calls",
}


@dataclass
class Section:
    key: str
    #: the section's figures (JSON-ready); None when it is omitted
    data: dict[str, Any] | None = None
    #: why it is omitted (one line)
    omitted: str | None = None

    @property
    def title(self) -> str:
        return SECTIONS[self.key]

    @classmethod
    def omit(cls, key: str, reason: str) -> Section:
        return cls(key, None, reason)


@dataclass
class Report:
    generated_at: str
    range: dict[str, Any]
    sources: dict[str, Any]
    sections: dict[str, Section] = field(default_factory=dict)
    #: source errors: queries that failed, files that could not be read (the report still
    #: holds every section it could produce)
    errors: list[str] = field(default_factory=list)

    def add(self, section: Section) -> None:
        self.sections[section.key] = section

    def ordered(self) -> list[Section]:
        return [self.sections[k] for k in SECTIONS if k in self.sections]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "generated_at": self.generated_at,
            "range": self.range,
            "sources": self.sources,
            "errors": self.errors,
            "sections": {
                s.key: (
                    {"status": "ok", **(s.data or {})}
                    if s.omitted is None
                    else {"status": "omitted", "reason": s.omitted}
                )
                for s in self.ordered()
            },
        }
