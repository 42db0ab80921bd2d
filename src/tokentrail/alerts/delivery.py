"""Alert delivery off the request path: one worker thread and one bounded queue per sink.

Firing an alert counts it (``tokentrail.alerts``) and appends it to each sink's queue; it
never waits. Each sink's worker delivers in order, with the sink's timeout and a bounded
number of retries with exponential backoff; a sink that hangs or fails only delays its own
queue, never the call or another sink. A full queue drops the new alert (logged, once per
sink). Workers start with the first alert, so an ``instrument()`` that never alerts starts
no thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from .. import _guard
from .. import names as sc
from .._background import BackgroundQueue
from .models import Alert
from .sinks import DeliveryError, Sink

logger = logging.getLogger("tokentrail")

#: alerts waiting per sink before new ones are dropped
QUEUE_SIZE = 1000
#: the longest wait between two attempts (also caps a receiver's Retry-After)
MAX_BACKOFF_S = 30.0
_STOP = object()
_CLOSE = _guard.site("alerts.close", "tokentrail.alerts.sinks:Sink.close")


class _Worker(BackgroundQueue):
    """Delivers one sink's alerts, in order, on its own daemon thread."""

    def __init__(self, sink: Sink, stopping: threading.Event) -> None:
        super().__init__(
            size=QUEUE_SIZE,
            thread_name=f"tokentrail-alerts-{sink!r}",
            full_message=f"alert queue of {sink!r} is full ({QUEUE_SIZE} waiting); new "
            "alerts to it are dropped until it catches up",
        )
        self.sink = sink
        self.stopping = stopping
        self.delivered = 0
        self.failed = 0

    def _run(self) -> None:
        while True:
            alert = self.queue.get()
            try:
                if alert is _STOP:
                    return
                self._deliver(alert)
            finally:
                self.queue.task_done()

    def _deliver(self, alert: Alert) -> None:
        sink = self.sink
        for attempt in range(1, max(1, sink.attempts) + 1):
            try:
                sink.send(alert)
            except DeliveryError as exc:
                if attempt >= sink.attempts or self.stopping.is_set():
                    self._give_up(alert, exc, attempt)
                    return
                delay = sink.backoff * 2 ** (attempt - 1)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if self.stopping.wait(min(delay, MAX_BACKOFF_S)):
                    self._give_up(alert, exc, attempt)
                    return
            except Exception as exc:
                self._give_up(alert, exc, attempt)
                return
            else:
                self.delivered += 1
                return

    def _give_up(self, alert: Alert, exc: BaseException, attempts: int) -> None:
        self.failed += 1
        logger.warning(
            "tokentrail: could not deliver a %s alert to %r after %d attempt(s): %s",
            alert.kind,
            self.sink,
            attempts,
            exc,
        )

    def stop(self) -> None:
        self.stop_thread(_STOP)
        try:
            self.sink.close()
        except Exception as exc:
            _guard.report(_CLOSE, exc)


class AlertDispatcher:
    """Counts each alert and hands it to every sink's worker."""

    def __init__(self, sinks: Sequence[Sink], counter: Any) -> None:
        self.sinks = tuple(sinks)
        self._counter = counter
        self._stopping = threading.Event()
        self._workers = [_Worker(sink, self._stopping) for sink in self.sinks]
        self._attributes: dict[tuple[str, str], dict[str, str]] = {}
        self._closed = False

    def fire(self, alert: Alert) -> None:
        if self._closed:
            return
        key = (alert.kind, alert.severity)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes[key] = {
                sc.TOKENTRAIL_ALERT_KIND: alert.kind,
                sc.TOKENTRAIL_ALERT_SEVERITY: alert.severity,
            }
        self._counter.add(1, attributes)
        for worker in self._workers:
            worker.put(alert)

    def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds in all) until every queued alert was handled;
        True if all were."""
        deadline = time.monotonic() + timeout
        return all(worker.wait_idle(deadline) for worker in self._workers)

    def close(self, timeout: float = 2.0) -> None:
        """Try each queued alert once more, without backoff (waiting at most ``timeout`` in
        all), then stop the workers."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if not self.flush(timeout):
            for worker in self._workers:
                left = worker.queue.unfinished_tasks
                if left:
                    logger.warning(
                        "tokentrail: %d alert(s) could not be delivered to %r within %g s "
                        "(at exit or uninstrument()); they are dropped",
                        left,
                        worker.sink,
                        timeout,
                    )
        for worker in self._workers:
            worker.stop()

    def stats(self) -> dict[str, dict[str, int]]:
        """Per sink: delivered, failed and dropped alerts (tests and diagnostics)."""
        return {
            repr(w.sink): {"delivered": w.delivered, "failed": w.failed, "dropped": w.dropped}
            for w in self._workers
        }
