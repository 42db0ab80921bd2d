"""A fault at every guarded site changes nothing for the application (docs/reliability.md).

The sites are the code's own registry (``_guard.SITES``: each site declares, where it is
guarded, the code it guards), never a list kept here. For the code of each site, made to
raise, tokentrail is instrumented as a user with budgets (one blocking), alerts and a budget
store behind the background recorder would have it, and the scenarios run, sync and async
(tests/reliability/cases.py): plain calls, streams drained, closed, left and dropped, stream
helpers, calls that fail. Code of one provider's instrumentation
(``tokentrail.instrumentation.<provider>``) runs that provider's scenarios, everything else
runs every provider's. With ``TOKENTRAIL_STRICT`` off, as in production, the application
gets exactly what it gets without tokentrail — the same results, the same exceptions — and
each site that guards the code counted the fault (so the registry names code that the site
really runs)."""

from __future__ import annotations

import contextlib
import gc
from decimal import Decimal

import pytest

import tokentrail
from tokentrail import _guard
from tokentrail.budgets import Budget
from tokentrail.budgets.stores.memory import MemoryBudgetStore
from tokentrail.instrumentation.providers import PROVIDERS

from .cases import PENDING, Cases, provider_cases
from .faults import Envs, declared_sites, defined_at, fault_at, imported_late, outcomes

SITES = declared_sites()
CASES = provider_cases()
LATE = tuple(name for cases in CASES.values() for name in cases.imported_late)
#: the code each site guards, where it is defined -> the sites that guard it
TARGETS: dict[str, list[str]] = {}
for _site, _target in sorted(SITES.items()):
    if _target and _target.startswith(tuple(f"tokentrail.instrumentation.{p}." for p in PENDING)):
        continue  # no scenario of that provider yet
    TARGETS.setdefault(defined_at(_target) if _target else f"<none: {_site}>", []).append(_site)
#: a budget action is applied by whichever operation sends the call: the fault that keeps it
#: from being applied is in all of them at once (else the others would still act)
APPLY = tuple(target for target in TARGETS if target.endswith(".apply"))


def scenarios_for(target: str) -> dict[str, Cases]:
    """The providers whose scenarios can reach ``target``."""
    for name, cases in CASES.items():
        if target.startswith(f"tokentrail.instrumentation.{name}."):
            return {name: cases}
    return CASES


class RemoteStore(MemoryBudgetStore):
    """Budget spending written by the background recorder, as for Redis (whose sites this
    reaches), kept in memory."""

    inline = False


@pytest.fixture(scope="module")
def envs():
    envs = Envs()
    yield envs
    envs.close()


@pytest.fixture(scope="module")
def without_tokentrail(envs):
    """What the application gets from every scenario without tokentrail (then what was
    loaded to get it is left out of the garbage collections the scenarios make)."""
    found = outcomes(CASES, envs)
    gc.collect()
    gc.freeze()
    return found


def test_scenarios_fail_only_where_they_mean_to(without_tokentrail):
    failing = ("error", "cut", "rejected", "app_error")
    for (provider, name, flavour), got in without_tokentrail.items():
        meant = any(word in name for word in failing)
        assert (got[0] == "raised") == meant, (provider, name, flavour, got[:4])


def test_every_provider_has_reliability_cases():
    installed = {p.name for p in PROVIDERS if p.installed()}
    assert set(CASES) == installed - PENDING
    assert all(cases.scenarios for cases in CASES.values())


def test_every_site_names_code_that_exists():
    from .faults import resolve

    for site, target in SITES.items():
        assert target, (
            f"{site} declares no target: give it the code it guards "
            "(_guard.site(name, 'module:Qualified.name')), a function or method of its own"
        )
        resolve(target)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_fault_in_guarded_code_changes_nothing_for_the_application(
    target, envs, without_tokentrail, telemetry, lenient
):
    broken = APPLY if target in APPLY else (target,)
    sites = [
        site
        for code in broken
        for site in TARGETS[code]
        if not site.startswith(tuple(f"{p}." for p in PENDING))
    ]
    cases = scenarios_for(target) if len(broken) == 1 else CASES
    alerts = []
    budgets = [
        Budget("watch", Decimal("0.00001"), "day", warn_at=(0.5,)),
        Budget("cap", 1000, "day", action="block"),
    ]
    store: MemoryBudgetStore = RemoteStore()
    if target in APPLY:
        # actions that change every call after the first (the store is exact, so they act at
        # once): where applying them fails, the call goes out as the application made it
        budgets += [
            Budget("trim", Decimal("1e-9"), "day", action="clamp", at=0.5, max_output_tokens=16),
            Budget("cheaper", Decimal("1e-9"), "day", action="downgrade", at=0.5,
                   downgrade={"text-embedding-3-small": "text-embedding-ada-002",
                              "gemini-embedding-001": "gemini-2.0-flash-lite"}),
        ]  # fmt: skip
        store = MemoryBudgetStore()
    with contextlib.ExitStack() as faults:
        for code in broken:
            faults.enter_context(fault_at(code))
        faults.enter_context(imported_late(LATE))
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            budgets=budgets,
            budget_store=store,
            alert_sinks=[alerts.append],
            max_request_cost_usd=Decimal("0.000001"),
        )
        try:
            got = outcomes(cases, envs)
        finally:
            tokentrail.uninstrument()

    different = [key for key, value in got.items() if value != without_tokentrail[key]]
    assert not different, f"a fault in {broken} changed what the application got: {different}"
    counts = _guard.counts()
    for site in sites:
        assert counts.get(site, 0) > 0, f"no scenario reached {site} ({SITES[site]})"
    assert set(counts) <= set(SITES), "an error was reported at a site that is not declared"
