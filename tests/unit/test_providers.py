"""The one list of providers (``instrumentation/providers.py``) and everything derived from
it agree: the ``opentelemetry_instrumentor`` entry points, the extras and their version
ranges in pyproject.toml, the README's table, and ``instrument(providers=...)``."""

from __future__ import annotations

from importlib.metadata import entry_points, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import tokentrail
from tokentrail.instrumentation.providers import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_points_are_the_providers():
    """What pyproject.toml declares, as the installed distribution has it."""
    declared = {
        ep.name: ep.value
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.value.startswith("tokentrail.")
    }
    assert declared == {p.entry_point: f"{p.package}:{p.instrumentor_class}" for p in PROVIDERS}


def _extra(name: str) -> list[Requirement]:
    requirements = [Requirement(r) for r in requires("tokentrail") or ()]
    return [r for r in requirements if r.marker is not None and r.marker.evaluate({"extra": name})]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_each_extra_installs_the_supported_range(provider):
    (supported,) = (Requirement(r) for r in provider.supported)
    (sdk,) = [r for r in _extra(provider.extra) if r.name == provider.distribution]
    assert sdk.specifier == supported.specifier
    assert supported.name == provider.distribution


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_each_instrumentor_declares_the_range_and_is_public(provider):
    instrumentor = provider.instrumentor()
    assert tuple(instrumentor().instrumentation_dependencies()) == provider.supported
    assert getattr(tokentrail, provider.instrumentor_class) is instrumentor
    assert provider.instrumentor_class in tokentrail.__all__


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_the_readme_lists_each_provider_with_its_range_and_entry_point(provider):
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if f"`{provider.entry_point}`" in line]
    assert rows, f"no README table row names {provider.entry_point}"
    row = rows[0]
    assert f"`{provider.distribution}`" in row
    assert f"`{provider.extra}`" in row
    # the README writes the range as package.py does: ">= 1.66, < 4"
    range_ = provider.supported[0].split(" ", 1)[1]
    assert f"`{range_}`" in row, (range_, row)
    if provider.docs:
        assert (ROOT / provider.docs).exists()
        assert provider.docs in row


def test_instrument_rejects_an_unknown_provider():
    with pytest.raises(tokentrail.ConfigurationError, match="supported: openai"):
        tokentrail.instrument(providers=["nope"])
