"""Budgets: spending limits per window, enforced in-process.

``Budget`` describes a limit; a store (``MemoryBudgetStore`` by default, ``RedisBudgetStore``
to share spending between processes) holds the spending; ``tracker.BudgetTracker`` admits,
records and alerts.
"""

from __future__ import annotations

from .models import Budget, load_budgets
from .stores.memory import MemoryBudgetStore
from .stores.redis import RedisBudgetStore

__all__ = ["Budget", "MemoryBudgetStore", "RedisBudgetStore", "load_budgets"]
