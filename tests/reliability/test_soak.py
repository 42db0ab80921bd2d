"""The soak benchmark's workload (bench/soak.py), short: after a warm-up, memory stays flat.

2,000 mixed calls (three providers, plain and streamed, dropped and failing calls, budgets
with a blocking one, an alert sink, spans exported, metrics collected every 1,000 calls). The
number of memory blocks Python holds (``sys.getallocatedblocks``: cheap, unlike tracemalloc)
is compared after the warm-up and 1,000 calls later, at the same point of the workload's
1,000-call cycle: it moves by a couple of hundred blocks either way; a leak of one block per
call would add 1,000. The budget every call counts in holds the spans' total cost. The
200,000-call run with RSS and tracemalloc figures is the benchmark.
"""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
WARMUP = 1000
CALLS = 1000
#: less than half a block per call
BOUND = CALLS // 2


def load_soak():
    if "bench_soak" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_soak", SOAK)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["bench_soak"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules["bench_soak"]


def test_memory_stays_flat_after_warm_up():
    soak = load_soak()
    with soak.Session() as session:
        session.run(WARMUP)
        session.settle()
        before = sys.getallocatedblocks()
        session.run(CALLS)
        session.settle()
        grown = sys.getallocatedblocks() - before
        spans, failed = session.exporter.spans, session.workload.failed
        spent, cost = session.budget_spent(), session.exporter.cost
    assert grown < BOUND, f"{grown} more memory blocks after {CALLS} calls"
    assert abs(spent - cost) < Decimal("1e-9"), "the budget lost or added spending"
    assert spans == WARMUP + CALLS
    assert failed == (WARMUP + CALLS) // 10
