"""Budget writes off the request path, for stores that are not in this process (Redis): one
daemon thread, a bounded queue, batches of up to ``BATCH`` records in one store operation.

While the store is down a batch is retried every ``store.retry_after`` seconds and new
records queue up (then are dropped, counted, once the queue is full). Each batch has a
number, so that one whose write succeeded but whose reply was lost with the connection is
not counted again when it is retried. At exit (and at
``uninstrument()``) what is queued is written with one attempt each until a deadline; what
could not be written is logged with its amount.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from .. import _guard
from .._background import BackgroundQueue
from ..exceptions import BudgetStoreUnavailableError
from .money import to_usd
from .stores import BudgetStore

logger = logging.getLogger("tokentrail")

_RECORDER = _guard.site("budgets.recorder", "tokentrail.budgets.recorder:Recorder._process")


class Recorder(BackgroundQueue):
    """Items: ``("record", matched, charges, call)``, ``("claim", key, expire_at, alert)``,
    ``("read",)``, ``("task", function)``. ``recorded(matched, charges, results, call)`` runs
    after each record, ``claimed(alert)`` after a claim was won, ``read()`` refreshes the
    gauges; a task is any other store read, run once (dropped if the store is down)."""

    QUEUE_SIZE = 10_000
    BATCH = 256

    def __init__(
        self,
        store: BudgetStore,
        *,
        recorded: Callable[..., None],
        claimed: Callable[[Any], None],
        read: Callable[[], None],
    ) -> None:
        super().__init__(
            size=self.QUEUE_SIZE,
            thread_name="tokentrail-budget-recorder",
            full_message=f"the budget recorder is {self.QUEUE_SIZE} writes behind; further "
            "spending is not counted until it catches up",
        )
        self.store = store
        self._recorded = recorded
        self._claimed = claimed
        self._read = read
        self._read_pending = False
        self._stopping = threading.Event()
        #: names this process's writes, so that a batch retried after a lost reply counts once
        self.writer = uuid.uuid4().hex
        self._batches = 0

    def _forked(self) -> None:
        super()._forked()
        self.writer = uuid.uuid4().hex  # the child writes batches of its own

    def submit(self, item: tuple) -> None:
        if item[0] == "read":
            if self._read_pending:
                return
            self._read_pending = True
        self.put(item)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process([item for item in batch if item is not None])
            except Exception as exc:
                _guard.report(_RECORDER, exc)
            finally:
                for _ in batch:
                    self.queue.task_done()
            if None in batch:
                return

    def _process(self, batch: list[tuple]) -> None:
        records = [item for item in batch if item[0] == "record"]
        if records:
            charges = [charge for item in records for charge in item[2]]
            self._batches += 1
            number = (self.writer, self._batches)
            results = self._with_retry(
                lambda: self.store.record(charges, batch=number), len(records)
            )
            if results is not None:
                i = 0
                for _, matched, item_charges, call in records:
                    n = len(item_charges)
                    self._recorded(matched, item_charges, results[i : i + n], call)
                    i += n
            else:
                self.lost_nanos += sum(_settled(item) for item in records)
        for item in batch:
            if item[0] == "claim":
                _, key, expire_at, alert = item
                if self._with_retry(lambda k=key, e=expire_at: self.store.claim(k, e), 1):
                    self._claimed(alert)
            elif item[0] == "read":
                self._read_pending = False
                try:
                    self._read()
                except BudgetStoreUnavailableError:
                    pass  # the gauges keep their last values
            elif item[0] == "task":
                try:
                    item[1]()
                except BudgetStoreUnavailableError:
                    pass  # asked again when still needed

    def _with_retry(self, operation: Any, items: int) -> Any:
        """Run ``operation`` until the store answers (retrying every ``retry_after`` s);
        when stopping, one attempt only."""
        while True:
            try:
                return operation()
            except BudgetStoreUnavailableError:
                retry_after = getattr(self.store, "retry_after", 1.0)
                if self._stopping.is_set() or self._stopping.wait(retry_after):
                    self.dropped += items
                    return None

    #: nano-USD of spending that could not be written (dropped while stopping)
    lost_nanos = 0

    def pending(self) -> tuple[int, int]:
        """(records, nano-USD) still queued."""
        with self.queue.mutex:
            items = [item for item in self.queue.queue if item and item[0] == "record"]
        return len(items), sum(_settled(item) for item in items)

    def stop(self, deadline: float) -> None:
        """Write what is queued, one attempt each (no waiting on a store that is down), until
        ``deadline`` (monotonic); then end the thread and log what could not be written."""
        if not self.started:
            return
        self._stopping.set()
        self.wait_idle(deadline)
        left, nanos = self.pending()
        nanos += self.lost_nanos
        if left or self.lost_nanos:
            logger.warning(
                "tokentrail: budget spending of $%s (%d call(s) not yet written) could not be "
                "saved to the budget store %s before the process ended",
                to_usd(nanos),
                left,
                getattr(self.store, "url", self.store),
            )
        self.stop_thread(None)


def _settled(item: tuple) -> int:
    """The spending a queued record adds (the largest of its charges: each matching budget
    gets the same amount, give or take a sub-nano remainder)."""
    return max((charge.settled for charge in item[2]), default=0)
