"""The in-process store: atomic all-or-nothing reservations, running window totals and
once-per-window claims."""

from __future__ import annotations

import time
from datetime import timedelta

from tokentrail.budgets.models import ROLLING_BUCKETS, parse_window
from tokentrail.budgets.stores import EXCEEDED, Charge
from tokentrail.budgets.stores.memory import MemoryBudgetStore

#: spans are computed from this moment; claims expire by the wall clock, so it is now
NOW = time.time()


def test_reserve_holds_in_every_budget_or_in_none():
    store = MemoryBudgetStore()
    day = parse_window("day", "w").span(NOW)
    store.record([Charge("small:-", day, settled=900)])
    refusal = store.reserve(
        [Charge("big:-", day, held=200, limit=10_000), Charge("small:-", day, held=200, limit=1000)]
    )
    assert refusal is not None
    assert (refusal.index, refusal.settled, refusal.held) == (1, 900, 0)
    assert refusal.claimed  # the first refusal of the window claims the "exceeded" alert
    # nothing was held in the budget that had room
    assert store.read([("big:-", day), ("small:-", day)]) == [(0, 0), (900, 0)]
    # a second refusal in the same window does not claim it again
    again = store.reserve([Charge("small:-", day, held=200, limit=1000)])
    assert again is not None
    assert not again.claimed


def test_a_reservation_counts_until_it_is_settled():
    store = MemoryBudgetStore()
    day = parse_window("day", "w").span(NOW)
    assert store.reserve([Charge("b:-", day, held=600, limit=1000)]) is None
    assert store.reserve([Charge("b:-", day, held=600, limit=1000)]) is not None
    # settle to the actual cost: settled += 100, held -= 600
    (result,) = store.record([Charge("b:-", day, settled=100, held=-600)])
    assert (result.settled, result.held) == (100, 0)
    assert store.reserve([Charge("b:-", day, held=600, limit=1000)]) is None


def test_thresholds_are_claimed_once_per_window():
    store = MemoryBudgetStore()
    window = parse_window("hour", "w")
    span = window.span(NOW)
    thresholds = ((800, "0.8"), (1000, EXCEEDED))
    claimed = [
        store.record([Charge("b:-", span, 300, thresholds=thresholds)])[0].claimed for _ in range(5)
    ]
    assert claimed == [(), (), ("0.8",), (EXCEEDED,), ()]
    # the next hour starts from zero and may alert again
    later = window.span(NOW + 3600)
    (result,) = store.record([Charge("b:-", later, 900, thresholds=thresholds)])
    assert (result.settled, result.claimed) == (900, ("0.8",))


def test_a_rolling_window_forgets_spending_older_than_its_length():
    store = MemoryBudgetStore()
    window = parse_window(timedelta(hours=1), "w")
    bucket = 3600 / ROLLING_BUCKETS
    store.record([Charge("r:-", window.span(NOW), 100)])
    store.record([Charge("r:-", window.span(NOW + 1800), 10)])
    assert store.read([("r:-", window.span(NOW + 1800))]) == [(110, 0)]
    # an hour (and a bucket) later the first call has left the window, the second has not
    late = window.span(NOW + 3600 + bucket)
    assert store.read([("r:-", late)]) == [(10, 0)]
    (result,) = store.record([Charge("r:-", late, 1)])
    assert result.settled == 11


def test_a_settle_for_a_window_that_ended_does_not_touch_the_new_one():
    store = MemoryBudgetStore()
    window = parse_window("hour", "w")
    old = window.span(NOW)
    store.reserve([Charge("b:-", old, held=500, limit=1000)])
    new = window.span(NOW + 3600)
    store.record([Charge("b:-", new, 50)])
    store.record([Charge("b:-", old, settled=400, held=-500)])  # the call that straddled
    assert store.read([("b:-", new)]) == [(50, 0)]


def test_claims_expire_with_their_window():
    store = MemoryBudgetStore()
    assert store.claim("k", expire_at=int(time.time()) - 1)  # a claim that has expired ...
    assert store.claim("k", expire_at=2**40)  # ... so it can be taken again
    assert not store.claim("k", expire_at=2**40)
