"""What the fault-injection test needs: every guarded site the code declares, a fault at the code
a site guards, and what an application got from a scenario, as comparable data."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from typing import Any

import tokentrail
from tests.instrumentation.driver import explode
from tokentrail import _guard
from tokentrail.instrumentation import _base

from .cases import Cases, Env, Scenario

#: top-level fields of SDK results that differ between two identical calls (the raw HTTP
#: response, the SDK's record of the functions it called for you)
_VOLATILE = {"sdk_http_response", "automatic_function_calling_history"}


def declared_sites() -> dict[str, str | None]:
    """Every site declared in tokentrail (``_guard.SITES``), once every module is imported
    (sites are declared at import time, where they are guarded)."""
    for module in pkgutil.walk_packages(tokentrail.__path__, "tokentrail."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return dict(_guard.SITES)


def defined_at(target: str) -> str:
    """Where the code ``target`` names is defined: ``"module:Class.method"`` of the class
    that defines a method ``target`` finds by inheritance (so that the sites of several
    operations that run the same method are one fault), else ``target`` itself."""
    owner, name = resolve(target)
    if isinstance(owner, type):
        for cls in owner.__mro__:
            if name in vars(cls):
                return f"{cls.__module__}:{cls.__qualname__}.{name}"
    return target


def resolve(target: str) -> tuple[Any, str]:
    """``"module:Qualified.name"`` -> (the object holding it, the attribute name)."""
    module_name, _, qualname = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    if not hasattr(owner, name):
        raise AttributeError(f"{target}: {owner!r} has no {name!r}")
    return owner, name


@contextlib.contextmanager
def fault_at(target: str) -> Iterator[None]:
    """``target`` raises ``InjectedFault`` whenever it is called, until the block ends."""
    owner, name = resolve(target)
    own = name in vars(owner)
    original = vars(owner)[name] if own else None
    setattr(owner, name, explode)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)  # it was inherited


@contextlib.contextmanager
def imported_late(names: tuple[str, ...]) -> Iterator[None]:
    """The SDK modules ``names`` are not imported yet while the block runs, as in an
    application that instruments first and uses the SDK later (openai 3 imports its resource
    modules on first use): instrumenting then waits for their import to patch them. The
    modules are put back afterwards."""
    saved = []
    for name in names:
        module = sys.modules.pop(name, None)
        if module is None:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules[parent_name]
        saved.append((name, module, parent, child, vars(parent).get(child)))
        # the post-import hook of a module name fires once per process: let it be set again
        _base._hooked.discard(name)
    try:
        yield
    finally:
        for name, module, parent, child, attribute in saved:
            sys.modules[name] = module
            if attribute is None:
                vars(parent).pop(child, None)
            else:
                setattr(parent, child, attribute)


def plain(value: Any) -> Any:
    """An SDK result as plain data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude=_VOLATILE, warnings=False)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def outcome(scenario: Scenario, env: Env) -> Any:
    """What the application got from ``scenario``: its result as plain data, or the
    exception it raised (class, message and HTTP status)."""
    try:
        return ("returned", plain(scenario(env)))
    except Exception as exc:
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        return ("raised", type(exc).__module__, type(exc).__qualname__, str(exc), status)


class Envs:
    """The sync and the async ``Env`` of a test module (one event loop for all its async
    scenarios), closed at the end."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.flavours = {"sync": Env(), "async": Env(self.loop)}

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def outcomes(cases: dict[str, Cases], envs: Envs) -> dict[tuple[str, str, str], Any]:
    """Every scenario of every provider, sync then async: (provider, scenario, flavour) ->
    what the application got."""
    return {
        (provider, name, flavour): outcome(scenario, env)
        for provider, provider_cases in cases.items()
        for name, scenario in provider_cases.scenarios.items()
        for flavour, env in envs.flavours.items()
    }
