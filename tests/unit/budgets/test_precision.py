"""Budget money is exact to the nano-dollar: 100,000 cheap calls leave the memory store's
gauge equal to the sum of their spans' costs (tests/budget_precision.py; Redis in e2e)."""

from decimal import Decimal

from tests.budget_precision import CALLS, spend_cheaply
from tokentrail.budgets.money import Carry
from tokentrail.budgets.stores.memory import MemoryBudgetStore


def test_a_hundred_thousand_cheap_calls_add_up_to_the_nano_dollar():
    total, gauge, priced = spend_cheaply(MemoryBudgetStore(), lambda runtime: runtime.flush(10))
    assert priced == CALLS
    assert abs(Decimal(repr(gauge)) - total) <= Decimal("1e-9"), (gauge, total)


def test_the_carry_keeps_what_is_below_a_nano_dollar():
    carry = Carry()
    assert [carry.take("b", Decimal("0.00000000075")) for _ in range(4)] == [
        0,
        1,
        1,
        1,
    ]  # 0.75, 1.5, 2.25, 3.0 nano in all
    assert carry.take("other", Decimal("0.0000012345")) == 1234
