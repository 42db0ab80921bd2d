"""Zone 2 of the error policy: our own code around an SDK call must never break the app.

Every internal step reports its failure here, under the name of its *site*. The first failure
of each site is logged at WARNING with its traceback, later ones at DEBUG; each is counted
(``tokentrail.internal.errors``). With ``TOKENTRAIL_STRICT=1`` (the test suite sets it) the
error is re-raised instead, so that bugs fail CI.

Sites are declared where they are guarded, with ``site(name, target)``: ``target`` names the
code that runs inside the guard (``"module:Qualified.name"``), so that the fault-injection
test can make exactly that code fail, at every site this registry knows, and check that the
application sees nothing of it (docs/reliability.md).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter

logger = logging.getLogger("tokentrail")

_lock = threading.Lock()
_reported: set[str] = set()
#: internal errors per site since start; exported as the ``tokentrail.internal.errors`` counter
error_counts: Counter[str] = Counter()
#: every declared site -> the code it guards (``"module:qualname"``): a function or method of
#: its own, which the fault-injection test makes fail (it fails for a site declared with None)
SITES: dict[str, str | None] = {}


def site(name: str, target: str | None) -> str:
    """Declare a guarded site (at import time, where it is guarded); returns ``name``."""
    SITES[name] = target
    return name


def counts() -> dict[str, int]:
    """A copy of ``error_counts`` (safe to iterate while calls go on)."""
    with _lock:
        return dict(error_counts)


def _env_strict() -> bool:
    return os.environ.get("TOKENTRAIL_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


_strict = _env_strict()


def is_strict() -> bool:
    return _strict


def set_strict(value: bool | None) -> None:
    """Force strict mode on or off; ``None`` goes back to ``TOKENTRAIL_STRICT``."""
    global _strict
    _strict = _env_strict() if value is None else value


def report(site: str, exc: BaseException) -> None:
    """Record an internal error at ``site``; re-raise it in strict mode.

    Call it from an ``except Exception`` block. It never raises outside strict mode.
    """
    with _lock:
        error_counts[site] += 1
        first = site not in _reported
        _reported.add(site)
    if _strict:
        raise exc
    if first:
        logger.warning(
            "tokentrail internal error in %s; the call goes on with less telemetry "
            "(further errors here are logged at DEBUG)",
            site,
            exc_info=exc,
        )
    else:
        logger.debug("tokentrail internal error in %s: %r", site, exc)


def reset() -> None:
    """Forget what was reported (tests)."""
    with _lock:
        _reported.clear()
        error_counts.clear()
