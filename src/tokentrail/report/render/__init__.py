"""Renderers: the report as terminal text, markdown, JSON, CSV or one self-contained HTML file,
and its charts as PNG images. Text, markdown, CSV and HTML share the tables of
:mod:`.tables`."""

from __future__ import annotations

FORMATS = ("text", "markdown", "json", "csv", "html")
