"""Zone 2 of the error policy: our own code around an SDK call must never break the app.

Every internal step reports its failure here. The first failure of each site is logged at
WARNING with its traceback, later ones at DEBUG; each is counted. With ``TOKENTRAIL_STRICT=1``
(the test suite sets it) the error is re-raised instead, so that bugs fail CI.
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
