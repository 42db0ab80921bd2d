"""``attribute`` / ``Attribution`` / ``bind`` on their own (the openai tests cover them on
real calls)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from tokentrail import attribute
from tokentrail.attribution import EMPTY, Attribution, bind, current


def test_nothing_attributed_by_default():
    assert current() is EMPTY
    assert dict(current().values) == {}


def test_block_sets_and_restores():
    with attribute(feature="search", team="core") as inside:
        assert current() is inside
        assert dict(inside.values) == {"feature": "search", "team": "core"}
    assert current() is EMPTY


def test_restored_when_the_block_raises():
    with pytest.raises(KeyError), attribute(feature="search"):
        raise KeyError("x")
    assert current() is EMPTY


def test_same_instance_nests_in_itself():
    block = attribute(team="core")
    with block, attribute(feature="a"), block:
        assert dict(current().values) == {"team": "core", "feature": "a"}
    assert current() is EMPTY


def test_values_are_strings_and_numbers_become_strings():
    with attribute(feature="search", tier=3, ratio=0.5):
        assert dict(current().values) == {"feature": "search", "tier": "3", "ratio": "0.5"}


@pytest.mark.parametrize("value", [True, ["a"], {"a": 1}, object()])
def test_other_value_types_are_rejected(value):
    with pytest.raises(TypeError, match="feature"):
        attribute(feature=value)


@pytest.mark.parametrize("key", ["", "has space", "dash-ed", "a/b"])
def test_keys_are_identifiers(key):
    with pytest.raises(ValueError, match="attribute key"):
        attribute(**{key: "x"})


def test_span_and_metric_views():
    attribution = Attribution(
        {"feature": "f", "team": "t", "endpoint": "/e", "user_id": "u", "tenant.id": "acme"}
    )

    assert dict(attribution.span_attributes) == {
        "tokentrail.feature": "f",
        "tokentrail.team": "t",
        "tokentrail.endpoint": "/e",
        "user.id": "u",
        "tokentrail.tenant.id": "acme",
    }
    assert attribution.metric_key == ("f", "t", "/e")  # never the user


def test_attribution_is_immutable_and_hashable():
    attribution = Attribution({"feature": "f"})

    with pytest.raises(TypeError):
        attribution.values["feature"] = "g"  # type: ignore[index]
    assert attribution == Attribution({"feature": "f"})
    assert hash(attribution) == hash(Attribution({"feature": "f"}))
    assert attribution != Attribution({"feature": "g"})
    assert attribution.merged({"feature": None}) == EMPTY


def test_decorator_keeps_the_function_and_applies_per_call():
    @attribute(feature="digest")
    def summarise(x):
        """Docstring."""
        return x, dict(current().values)

    assert summarise.__name__ == "summarise"
    assert summarise.__doc__ == "Docstring."
    with attribute(team="core"):
        assert summarise(1) == (1, {"team": "core", "feature": "digest"})
    assert current() is EMPTY


def test_decorator_on_a_coroutine_function():
    @attribute(feature="digest")
    async def summarise():
        await asyncio.sleep(0)
        return dict(current().values)

    assert asyncio.iscoroutinefunction(summarise)
    assert asyncio.run(summarise()) == {"feature": "digest"}
    assert current() is EMPTY


def test_bind_captures_the_attribution_in_effect_when_bound():
    with attribute(feature="batch"):
        bound = bind(lambda: dict(current().values))
    with attribute(feature="other"):
        assert bound() == {"feature": "batch"}
    assert current() is EMPTY


def test_bind_runs_in_a_copy_each_time():
    """What the bound function changes in its context stays there."""
    var = contextvars.ContextVar("var", default=0)

    def bump():
        var.set(var.get() + 1)
        return var.get()

    bound = bind(bump)
    assert [bound(), bound()] == [1, 1]
