"""What a budget is: a limit on spending per window, for the calls whose attribution matches.

Windows come in two kinds:

* **calendar** (``"hour"``, ``"day"``, ``"month"``): aligned to UTC boundaries; spending resets
  at the start of each hour, day or month. One counter per window.
* **rolling** (a ``timedelta``, or ``"6h"`` in a file): the spending of the last ``window``.
  An atomic counter store cannot subtract each call when it ages out, so the window is split
  into ``ROLLING_BUCKETS`` equal sub-buckets; a call is added to the bucket of the moment it
  started, and the window's spending is the sum of the last ``ROLLING_BUCKETS`` buckets. The
  oldest bucket counts whole until it leaves, so the window really covers between
  ``window - window/ROLLING_BUCKETS`` and ``window`` (it over-counts by at most one bucket of
  time, the safe direction for a limit).

A call is counted in the window (bucket) in which it *started*.

A budget's ``action`` says what happens as its window fills: ``alert`` (alerts only),
``block`` (refuse a call whose worst case does not fit), and, once the spending reaches
``at`` x limit, ``downgrade`` (send the call to a cheaper model) or ``clamp`` (cap its output).
"""

from __future__ import annotations

import calendar
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ..config import read_config_file, to_usd
from ..exceptions import ConfigurationError

#: sub-buckets of a rolling window (the window over-counts by at most 1/ROLLING_BUCKETS)
ROLLING_BUCKETS = 60
#: the shortest rolling window (a bucket is then one second)
MIN_ROLLING = timedelta(seconds=ROLLING_BUCKETS)
#: counters and alert claims outlive their window by this much (clock skew between hosts)
EXPIRY_GRACE_S = 60

Action = Literal["alert", "block", "downgrade", "clamp"]
#: from the least to the most restrictive: when several budgets act on one call, the most
#: restrictive action that applies wins
ACTIONS: tuple[Action, ...] = ("alert", "clamp", "downgrade", "block")
#: ``max_output_tokens="fit"``: cap the output to what is left of the budget
FIT = "fit"
#: a downgrade mapping: model (exact name or glob) -> cheaper model, or a function of the model
Downgrade = Mapping[str, str] | Callable[[str], "str | None"]
_ATTRIBUTION_KEYS = ("feature", "team", "user_id", "endpoint")


@dataclass(frozen=True, slots=True)
class Span:
    """Where a moment falls in a window: the counters to sum and the one to write.

    ``first``..``last`` are bucket ids (a calendar window has one: its start in epoch
    seconds); a call adds to ``last``. ``start``/``end`` bound the spending that is summed,
    in epoch seconds (for a rolling window ``end`` is when ``last`` stops taking new calls).
    """

    start: float
    end: float
    first: int
    last: int
    #: epoch second after which the written counter may be dropped
    expire_at: int
    #: names this window in once-per-window alert claims
    claim_id: str
    #: epoch second at which an alert claim made in this window expires
    claim_expire_at: int

    @property
    def buckets(self) -> range:
        return range(self.first, self.last + 1)

    def window_start(self) -> datetime:
        return datetime.fromtimestamp(self.start, tz=timezone.utc)

    def window_end(self) -> datetime:
        return datetime.fromtimestamp(self.end, tz=timezone.utc)


class Window:
    """Maps a moment (epoch seconds) to its ``Span``; the current span is cached."""

    __slots__ = ("_cached", "_valid_from", "_valid_until", "label", "seconds")

    #: nominal length in seconds (a month: 30 days), for display and projections
    seconds: float

    def __init__(self, label: str) -> None:
        self.label = label
        self._cached: Span | None = None
        self._valid_from = self._valid_until = 0.0

    def span(self, now: float) -> Span:
        if self._valid_from <= now < self._valid_until:
            return self._cached  # type: ignore[return-value]
        span = self._compute(now)
        # a racing thread may interleave these writes: it then computes the span again
        self._valid_until = 0.0
        self._cached = span
        self._valid_from = self._bucket_start(span)
        self._valid_until = span.end
        return span

    def remaining(self, now: float) -> float:
        """Seconds until spending in the window resets (rolling: the window's length, the
        horizon over which today's burn rate would add up)."""
        return self.span(now).end - now

    def _bucket_start(self, span: Span) -> float:
        return span.start

    def _compute(self, now: float) -> Span:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


class CalendarWindow(Window):
    """An hour, day or month, aligned to UTC."""

    __slots__ = ("unit",)

    def __init__(self, unit: Literal["hour", "day", "month"]) -> None:
        super().__init__(unit)
        self.unit = unit
        self.seconds = {"hour": 3600.0, "day": 86400.0, "month": 30 * 86400.0}[unit]

    def _compute(self, now: float) -> Span:
        if self.unit == "hour":
            start = now // 3600 * 3600
            end = start + 3600
        elif self.unit == "day":
            start = now // 86400 * 86400
            end = start + 86400
        else:
            moment = datetime.fromtimestamp(now, tz=timezone.utc)
            year, month = moment.year, moment.month
            start = calendar.timegm((year, month, 1, 0, 0, 0))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            end = calendar.timegm((year, month, 1, 0, 0, 0))
        start, end = int(start), int(end)
        return Span(
            start=start,
            end=end,
            first=start,
            last=start,
            expire_at=end + EXPIRY_GRACE_S,
            claim_id=str(start),
            claim_expire_at=end + EXPIRY_GRACE_S,
        )


class RollingWindow(Window):
    """The last ``length``, summed over ``ROLLING_BUCKETS`` sub-buckets."""

    __slots__ = ("bucket_s", "length")

    def __init__(self, length: timedelta, label: str | None = None) -> None:
        super().__init__(label or _format_duration(length))
        self.length = length
        self.seconds = length.total_seconds()
        self.bucket_s = self.seconds / ROLLING_BUCKETS

    def remaining(self, now: float) -> float:
        return self.seconds

    def _bucket_start(self, span: Span) -> float:
        return span.last * self.bucket_s

    def _compute(self, now: float) -> Span:
        width = self.bucket_s
        last = int(now // width)
        first = last - ROLLING_BUCKETS + 1
        return Span(
            start=first * width,
            end=(last + 1) * width,
            first=first,
            last=last,
            # a bucket leaves the window ROLLING_BUCKETS buckets after it began
            expire_at=math.ceil((last + ROLLING_BUCKETS + 1) * width) + EXPIRY_GRACE_S,
            # no reset moment: an alert may fire again once a window's length has passed
            claim_id="rolling",
            claim_expire_at=math.ceil(now + self.seconds),
        )


@dataclass(frozen=True, eq=False, init=False, repr=False)
class Budget:
    """A spending limit per window for the calls whose attribution matches.

    >>> Budget("team-core-daily", 50, "day", match={"team": "core"}, action="block")
    >>> Budget("per-user-hourly", 1, "hour", per="user_id")

    ``match``: attribution values a call must carry to count. ``per``: one budget (limit,
    spending, alerts) per distinct value of that attribution key; a call without the key is
    not counted by it (add a budget without ``per`` to cover such calls). ``action="block"``
    refuses, before it is sent, a call whose worst-case cost does not fit in what is left.
    ``warn_at``: fractions of the limit at which a ``budget_warning`` fires (once per window).
    """

    name: str
    limit_usd: Decimal
    window: Window
    #: attribution key -> the value a call must carry (a tuple: any of them)
    match: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    per: str | None = None
    action: Action = "alert"
    warn_at: tuple[Decimal, ...] = (Decimal("0.8"),)
    #: ``action="downgrade"``: model -> cheaper model (exact names, globs), or a function
    downgrade: Downgrade | None = None
    #: ``downgrade``/``clamp`` act once the window's spending reaches ``at`` x limit
    at: Decimal = Decimal("0.8")
    #: ``action="clamp"``: the output cap (tokens), or ``"fit"``: what is left of the budget
    max_output_tokens: int | str | None = None

    def __init__(
        self,
        name: str,
        limit_usd: Decimal | float | int | str,
        window: str | timedelta | Window,
        *,
        match: Mapping[str, Any] | None = None,
        per: str | None = None,
        action: Action = "alert",
        warn_at: Iterable[float | Decimal | str] = (0.8,),
        downgrade: Downgrade | None = None,
        at: float | Decimal | str = 0.8,
        max_output_tokens: int | str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"Budget name must be a non-empty string, got {name!r}")
        where = f"Budget {name!r}"
        limit = to_usd(limit_usd, f"{where}: limit_usd")
        if limit <= 0:
            raise ConfigurationError(f"{where}: limit_usd must be > 0, got {limit_usd!r}")
        if not isinstance(window, Window):
            window = parse_window(window, f"{where}: window")
        if match is not None and not isinstance(match, Mapping):
            raise ConfigurationError(f"{where}: match must be a mapping of attribution values")
        matched: dict[str, str | tuple[str, ...]] = {}
        for key, value in (match or {}).items():
            if not isinstance(key, str) or not key:
                raise ConfigurationError(f"{where}: match key {key!r} must be a string")
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            if not values or any(
                isinstance(v, bool) or not isinstance(v, (str, int, float)) for v in values
            ):
                raise ConfigurationError(
                    f"{where}: match[{key!r}] must be a string or a list of strings"
                )
            as_text = tuple(dict.fromkeys(str(v) for v in values))
            matched[key] = as_text[0] if len(as_text) == 1 and values is not value else as_text
        if per is not None and (not isinstance(per, str) or not per):
            raise ConfigurationError(f"{where}: per must be an attribution key like 'user_id'")
        if per is not None and per in matched:
            raise ConfigurationError(f"{where}: per={per!r} is also fixed by match")
        if action not in ACTIONS:
            raise ConfigurationError(
                f"{where}: action must be one of {', '.join(ACTIONS)}; got {action!r}"
            )
        downgrade, max_output_tokens = _check_action(where, action, downgrade, max_output_tokens)
        at_fraction = to_usd(at, f"{where}: at")
        if not 0 < at_fraction <= 1:
            raise ConfigurationError(
                f"{where}: at is a fraction of the limit between 0 (exclusive) and 1, got {at!r}"
            )
        if isinstance(warn_at, (str, bytes, int, float, Decimal)):
            warn_at = (warn_at,)  # type: ignore[assignment]
        fractions = []
        for value in warn_at:
            fraction = to_usd(value, f"{where}: warn_at")  # a non-negative number
            if not 0 < fraction < 1:
                raise ConfigurationError(
                    f"{where}: warn_at values are fractions between 0 and 1 (exclusive), "
                    f"got {value!r}; reaching the limit always alerts"
                )
            fractions.append(fraction)
        setattr_ = object.__setattr__
        setattr_(self, "name", name.strip())
        setattr_(self, "limit_usd", limit)
        setattr_(self, "window", window)
        setattr_(self, "match", MappingProxyType(matched))
        setattr_(self, "per", per)
        setattr_(self, "action", action)
        setattr_(self, "warn_at", tuple(sorted(set(fractions))))
        setattr_(self, "downgrade", downgrade)
        setattr_(self, "at", at_fraction)
        setattr_(self, "max_output_tokens", max_output_tokens)

    @property
    def blocking(self) -> bool:
        return self.action == "block"

    def __repr__(self) -> str:
        match = {k: list(v) if isinstance(v, tuple) else v for k, v in self.match.items()}
        extra = "".join(
            f", {k}={v!r}"
            for k, v in (
                ("match", match),
                ("per", self.per),
                ("downgrade", self.downgrade),
                ("max_output_tokens", self.max_output_tokens),
            )
            if v
        )
        if self.action in ("downgrade", "clamp"):
            extra += f", at={float(self.at)}"
        return (
            f"Budget({self.name!r}, {self.limit_usd}, {self.window.label!r}{extra}, "
            f"action={self.action!r}, warn_at={[float(f) for f in self.warn_at]})"
        )


def _check_action(
    where: str, action: str, downgrade: Any, max_output_tokens: Any
) -> tuple[Downgrade | None, int | str | None]:
    """The fields of ``downgrade`` and ``clamp`` budgets: given with their action, only then."""
    if action == "downgrade":
        if callable(downgrade):
            pass
        elif isinstance(downgrade, Mapping) and downgrade:
            for model, cheaper in downgrade.items():
                if not isinstance(model, str) or not model or not isinstance(cheaper, str):
                    raise ConfigurationError(
                        f"{where}: downgrade maps model names (or globs) to model names, "
                        f"got {model!r}: {cheaper!r}"
                    )
            downgrade = MappingProxyType(dict(downgrade))
        else:
            raise ConfigurationError(
                f"{where}: action='downgrade' needs downgrade={{model: cheaper model}} "
                "(names or globs) or a function of the model"
            )
    elif downgrade is not None:
        raise ConfigurationError(f"{where}: downgrade is for action='downgrade' only")
    if action == "clamp":
        if max_output_tokens != FIT and (
            isinstance(max_output_tokens, bool)
            or not isinstance(max_output_tokens, int)
            or max_output_tokens < 1
        ):
            raise ConfigurationError(
                f"{where}: action='clamp' needs max_output_tokens, a number of tokens >= 1 "
                f"or 'fit' (what is left of the budget); got {max_output_tokens!r}"
            )
    elif max_output_tokens is not None:
        raise ConfigurationError(f"{where}: max_output_tokens is for action='clamp' only")
    return downgrade, max_output_tokens


# -- windows ------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_window(value: Any, what: str) -> Window:
    """``"hour"``, ``"day"``, ``"month"``, a ``timedelta`` or a duration like ``"6h"``,
    ``"90m"``, ``"1d12h"`` (rolling)."""
    if isinstance(value, timedelta):
        length = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("hour", "day", "month"):
            return CalendarWindow(text)  # type: ignore[arg-type]
        compact = text.replace(" ", "")
        parts = _DURATION.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise ConfigurationError(
                f"{what}: expected hour, day, month or a duration like 6h, 30m, 7d; got {value!r}"
            )
        length = timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    else:
        raise ConfigurationError(
            f"{what}: expected 'hour', 'day', 'month' or a timedelta, got {value!r}"
        )
    if length < MIN_ROLLING:
        raise ConfigurationError(
            f"{what}: a rolling window is at least {MIN_ROLLING}, got {value!r}"
        )
    return RollingWindow(length, value.strip() if isinstance(value, str) else None)


def _format_duration(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


# -- files --------------------------------------------------------------------------------

_FIELDS = (
    "name",
    "limit_usd",
    "window",
    "match",
    "per",
    "action",
    "warn_at",
    "downgrade",
    "at",
    "max_output_tokens",
)


def load_budgets(source: Any) -> tuple[Budget, ...]:
    """Budgets from a YAML/JSON file path, a ``{"budgets": [...]}`` mapping, or an iterable
    of ``Budget`` objects and entry mappings."""
    if source is None:
        return ()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return parse_budgets(read_config_file(path, "budgets"), origin=str(path))
    if isinstance(source, Budget):
        return (source,)
    return parse_budgets(source, origin="budgets=")


def parse_budgets(data: Any, *, origin: str) -> tuple[Budget, ...]:
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"budgets"})
        if extra:
            raise ConfigurationError(
                f"{origin}: unknown top-level key(s) {extra}; expected 'budgets'"
            )
        data = data.get("budgets") or []
    if not isinstance(data, Iterable) or isinstance(data, (str, bytes)):
        raise ConfigurationError(f"{origin}: 'budgets' must be a list of entries")
    budgets: list[Budget] = []
    for i, entry in enumerate(data):
        budgets.append(entry if isinstance(entry, Budget) else _parse_entry(entry, origin, i))
    names = [b.name for b in budgets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"{origin}: budget names must be unique; repeated: {duplicates}")
    return tuple(budgets)


def _parse_entry(entry: Any, origin: str, index: int) -> Budget:
    where = f"{origin}: budgets[{index}]"
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{where}: must be a mapping, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{where}: field 'name' is required (a string)")
    where = f"{where} (budget {name!r})"
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(_FIELDS)}"
        )
    for required in ("limit_usd", "window"):
        if required not in entry:
            raise ConfigurationError(f"{where}: field {required!r} is required")
    kwargs = {k: entry[k] for k in _FIELDS[3:] if k in entry}
    limit = to_usd(entry["limit_usd"], f"{where}: field 'limit_usd'")
    window = parse_window(entry["window"], f"{where}: field 'window'")
    try:
        return Budget(name, limit, window, **kwargs)
    except ConfigurationError as exc:
        detail = _detail(exc)
        field_name = next((f for f in _FIELDS if detail.startswith(f)), None)
        prefix = f"field {field_name!r}: " if field_name else ""
        raise ConfigurationError(f"{where}: {prefix}{detail}") from None


def _detail(exc: ConfigurationError) -> str:
    """The message without its leading ``Budget 'x': ``."""
    return str(exc).split(": ", 1)[-1]
