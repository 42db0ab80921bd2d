"""Work off the request path: a bounded queue drained by one daemon thread.

Putting never blocks the caller: when the queue is full the item is dropped, counted, and the
first drop is logged. The thread starts with the first item, so a process that never puts
anything starts no thread.

A forked child (a pre-forking server's worker, ``gunicorn --preload``) has none of its
parent's threads: each queue forgets its thread and what the parent had queued (the parent's
work, which the parent does), and starts a thread of its own with the child's first item.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from typing import Any

from . import _guard

logger = logging.getLogger("tokentrail")


class BackgroundQueue:
    """Subclasses implement ``_run()``, which takes items from ``self.queue`` (calling
    ``task_done()`` for each) until it sees the stop item it gets from ``stop_thread()``."""

    def __init__(self, *, size: int, thread_name: str, full_message: str) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(size)
        #: items dropped because the queue was full (and by subclasses, for their reasons)
        self.dropped = 0
        self._thread_name = thread_name
        self._full_message = full_message
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        _queues.add(self)

    def _forked(self) -> None:
        """In a forked child: no thread yet, nothing queued."""
        self.queue = queue.Queue(self.queue.maxsize)
        self._thread = None
        self._start_lock = threading.Lock()

    def put(self, item: Any) -> None:
        if self._thread is None:
            self._start()
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("tokentrail: %s", self._full_message)

    @property
    def started(self) -> bool:
        return self._thread is not None

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        raise NotImplementedError

    def wait_idle(self, deadline: float) -> bool:
        """Wait until every queued item was handled, or ``deadline`` (monotonic) passed."""
        q = self.queue
        with q.all_tasks_done:
            while q.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                q.all_tasks_done.wait(remaining)
        return True

    def stop_thread(self, stop_item: Any) -> None:
        """Ask the thread to end once it reaches ``stop_item`` (a daemon thread that cannot
        take it, the queue being full, ends with the process)."""
        if self._thread is None:
            return
        try:
            self.queue.put_nowait(stop_item)
        except queue.Full:
            pass


_queues: weakref.WeakSet[BackgroundQueue] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for background in list(_queues):
        background._forked()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Deferred(BackgroundQueue):
    """Work that must not run where it was asked for: ending a call from a finaliser
    (``__del__``, a garbage-collected generator) runs tokentrail code that takes locks and may
    export a span; on the caller's thread, in the middle of whatever the garbage collector
    interrupted, that could deadlock or swallow a Ctrl-C. It runs here instead, in order."""

    def __init__(self) -> None:
        super().__init__(
            size=100_000,
            thread_name="tokentrail-finaliser",
            full_message="100000 dropped streams are waiting to be reported; more are lost",
        )

    def _run(self) -> None:
        while True:
            function, args = self.queue.get()
            try:
                self.perform(function, args)
            except Exception as exc:
                _guard.report(_DEFERRED_SITE, exc)
            finally:
                self.queue.task_done()

    @staticmethod
    def perform(function: Any, args: tuple) -> None:
        """One piece of deferred work (the guarded part of the thread's loop)."""
        function(*args)


_DEFERRED_SITE = _guard.site("deferred", "tokentrail._background:_Deferred.perform")
deferred = _Deferred()


def defer(function: Any, *args: Any) -> None:
    """Run ``function(*args)`` soon on the finaliser thread; never blocks, never raises (at
    interpreter shutdown, when no thread can start, the work is dropped with the process)."""
    try:
        deferred.put((function, args))
    except Exception:  # RuntimeError: can't create new thread at interpreter shutdown
        pass
