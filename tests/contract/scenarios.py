"""What the span and metric contract tests need from each provider: one ``Scenario`` per
provider in ``tokentrail.instrumentation.providers.PROVIDERS``, in
``tests/instrumentation/<provider>/contract.py`` (a new provider that has none fails
``test_every_provider_has_a_contract_scenario``).

A scenario's fake answers every call with a usage that has every part the provider reports
(cache reads, cache writes where it has them, reasoning), so that every known attribute is
on the span."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from tokentrail.instrumentation.providers import PROVIDERS

#: the prompt of every contract call (content capture looks for it)
PROMPT = "Summarise the quarterly figures in two sentences."


class Scenario(Protocol):
    #: the ``gen_ai.provider.name`` of its calls
    provider: str
    #: ``gen_ai.operation.name`` of ``call``
    operation: str
    #: the request model of ``call``
    model: str
    #: ``server.address`` and ``server.port`` of its client
    server: tuple[str, int | None]
    #: span attribute -> value the fake's usage yields (every usage attribute it reports)
    usage: dict[str, int]
    #: ``gen_ai.response.finish_reasons`` of a plain call
    finish_reasons: tuple[str, ...]
    #: span attributes the provider's answers never carry (optional; e.g. a response model)
    unreported: tuple[str, ...]

    def fake(self) -> Any:
        """A fake provider answering with the full usage."""

    def client(self, fake: Any) -> Any:
        """A sync client of ``fake``."""

    def call(
        self,
        client: Any,
        *,
        stream: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Any:
        """One call with ``PROMPT`` (a stream is drained); returns the SDK's result."""

    def fail_next(self, fake: Any) -> type[BaseException]:
        """Make the next call fail with an HTTP 500; the exception type the SDK raises."""

    def output_text(self, result: Any) -> str:
        """The answer's text (content capture records it)."""


def scenarios() -> dict[str, Scenario]:
    """Each provider's scenario, by provider name (those whose SDK is installed)."""
    found = {}
    for provider in PROVIDERS:
        if provider.installed():
            module = importlib.import_module(f"tests.instrumentation.{provider.name}.contract")
            found[provider.name] = module.SCENARIO
    return found
