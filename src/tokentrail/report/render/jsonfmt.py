"""The report as JSON (``"schema": "tokentrail.report/1"``, documented in docs/report.md)."""

from __future__ import annotations

import json
import math
from typing import Any

from ..model import Report


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def render(report: Report) -> str:
    return json.dumps(_finite(report.to_json()), indent=2, ensure_ascii=False) + "\n"
