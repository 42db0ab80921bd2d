"""The report's time range: ``--since 7d`` or ``--from/--to``, and the step the queries use.

The step is chosen from the length of the range (about 100 to 700 points per series):

============  =====  ==========================
range         step   trend chart
============  =====  ==========================
<= 1 h        15 s   cost per 15 s
<= 6 h        1 m    cost per minute
<= 2 d        5 m    cost per 5 minutes
<= 45 d       1 h    cost per hour
longer        1 d    cost per day
============  =====  ==========================

The start is moved back to a whole step (UTC), so that hourly and daily points line up with the
clock; the end stays where it is (a last, partial step covers the time since the last whole one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY

_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": DAY, "w": WEEK}
_DURATION = re.compile(r"^(\d+)([smhdw])$")

#: (longest range, step): the first whose range is at least the report's range
_STEPS = ((HOUR, 15), (6 * HOUR, 60), (2 * DAY, 300), (45 * DAY, HOUR), (None, DAY))


class RangeError(ValueError):
    """A range that cannot be reported (the message says why)."""


def parse_duration(text: str) -> int:
    """``"7d"`` -> seconds. Units: s, m, h, d, w."""
    match = _DURATION.match(text.strip())
    if not match or int(match[1]) == 0:
        raise RangeError(f"expected a duration such as 90m, 24h, 7d or 4w, got {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def parse_time(text: str) -> float:
    """An ISO 8601 date or time (UTC unless it says otherwise), or Unix seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(
            f"expected a time such as 2026-03-01, 2026-03-01T09:00Z or Unix seconds, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def format_duration(seconds: float) -> str:
    for unit, size in (("w", WEEK), ("d", DAY), ("h", HOUR), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def iso(timestamp: float) -> str:
    """Unix seconds -> ``2026-03-01T09:00:00Z``."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def auto_step(length: float) -> int:
    for longest, step in _STEPS:
        if longest is None or length <= longest:
            return step
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TimeRange:
    """``[start, end]`` in Unix seconds, ``start`` a multiple of ``step``."""

    start: float
    end: float
    step: int

    @classmethod
    def resolve(
        cls,
        *,
        since: str | None,
        start: str | None,
        end: str | None,
        step: str | None,
        now: float,
    ) -> TimeRange:
        if since is not None and start is not None:
            raise RangeError("give either --since or --from, not both")
        until = parse_time(end) if end is not None else now
        begin = parse_time(start) if start is not None else until - parse_duration(since or "7d")
        if begin >= until:
            raise RangeError(f"the range is empty: --from {iso(begin)} is not before {iso(until)}")
        if until > now + 60:
            raise RangeError(f"--to {iso(until)} is in the future")
        chosen = parse_duration(step) if step is not None else auto_step(until - begin)
        if (until - begin) / chosen > 11_000:
            raise RangeError(
                f"--step {format_duration(chosen)} makes more than 11,000 points for this range "
                "(Prometheus's limit): choose a longer step"
            )
        return cls(begin - begin % chosen, until, chosen)

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def last_whole_step(self) -> float:
        """The last multiple of ``step`` at or before ``end``."""
        return self.end - self.end % self.step

    def month_start(self) -> float:
        """Midnight UTC on the first day of the month that contains ``end``."""
        moment = datetime.fromtimestamp(self.end, timezone.utc)
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()

    def month_end(self) -> float:
        moment = datetime.fromtimestamp(self.month_start(), timezone.utc)
        following = (moment + timedelta(days=32)).replace(day=1)
        return following.timestamp()
