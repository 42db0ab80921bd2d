"""attribute(): a context manager and a decorator (sync and async) whose values nest, restore,
follow asyncio tasks and (with bind) thread pools; on spans, on allow-listed metric
attributes only; and, opt-in, carried across services in OTel baggage with user ids hashed."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

import tokentrail
from tokentrail import attribute
from tokentrail.attribution import bind, configure_baggage, current, hash_user_id
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import capture

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def no_baggage_settings():
    yield
    configure_baggage()


def values() -> dict[str, str]:
    return dict(current().values)


class TestBlocks:
    def test_nest_override_remove_and_restore(self):
        assert values() == {}
        with attribute(feature="search", team="core") as outer:
            assert dict(outer.values) == {"feature": "search", "team": "core"}
            with attribute(feature="rerank", user_id=42, team=None):
                assert values() == {"feature": "rerank", "user_id": "42"}
            assert values() == {"feature": "search", "team": "core"}
        assert values() == {}

    def test_restores_when_the_block_raises(self):
        with pytest.raises(KeyError), attribute(feature="x"):
            raise KeyError
        assert values() == {}

    def test_the_same_object_can_be_entered_again_inside_itself(self):
        block = attribute(team="core")
        with block, attribute(feature="a"), block:
            assert values() == {"team": "core", "feature": "a"}
        assert values() == {}

    def test_decorates_sync_and_async_functions(self):
        @attribute(feature="summarise")
        def summarise() -> dict[str, str]:
            return values()

        @attribute(feature="translate", team="intl")
        async def translate() -> dict[str, str]:
            await asyncio.sleep(0)
            return values()

        assert summarise.__name__ == "summarise"
        assert asyncio.iscoroutinefunction(translate)
        with attribute(team="core"):
            assert summarise() == {"team": "core", "feature": "summarise"}
            assert asyncio.run(translate()) == {"team": "intl", "feature": "translate"}
        assert values() == {}

    def test_follows_asyncio_tasks_without_leaking_back(self):
        async def child() -> dict[str, str]:
            with attribute(user_id="u-1"):
                await asyncio.sleep(0)
                return values()

        async def main() -> tuple[list[dict[str, str]], dict[str, str], dict[str, str]]:
            with attribute(feature="batch"):
                seen = await asyncio.gather(*(asyncio.create_task(child()) for _ in range(3)))
                in_thread = await asyncio.to_thread(values)
                return seen, values(), in_thread

        seen, after, in_thread = asyncio.run(main())
        assert seen == [{"feature": "batch", "user_id": "u-1"}] * 3
        assert after == {"feature": "batch"}
        assert in_thread == {"feature": "batch"}

    def test_a_thread_pool_needs_bind(self):
        with ThreadPoolExecutor(2) as pool, attribute(feature="report"):
            assert pool.submit(values).result() == {}  # submit does not copy the context
            assert pool.submit(bind(values)).result() == {"feature": "report"}
            assert list(pool.map(bind(lambda _: values()), range(2))) == [{"feature": "report"}] * 2

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"feature": ["a"]}, TypeError),
            ({"team": True}, TypeError),
            ({"bad-key": "x"}, ValueError),
        ],
    )
    def test_rejects_values_that_are_not_strings(self, kwargs, error):
        with pytest.raises(error):
            attribute(**kwargs)


def test_spans_carry_every_key_and_metrics_only_the_allow_list():
    fake = FakeOpenAI()
    with capture() as telemetry:
        client = fake.client()
        with attribute(feature="search", team="core", endpoint="/q", user_id="u-42", tenant="t1"):
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
        list(stream)  # read after the block: the call keeps the attribution it started with
        span = telemetry.span()
        expected = {
            "tokentrail.feature": "search",
            "tokentrail.team": "core",
            "tokentrail.endpoint": "/q",
            "user.id": "u-42",
            "tokentrail.tenant": "t1",
        }
        assert {k: span.attributes.get(k) for k in expected} == expected
        (point,) = telemetry.points("tokentrail.cost.usd")
        assert point.attributes["tokentrail.feature"] == "search"
        assert point.attributes["tokentrail.team"] == "core"
        assert "user.id" not in point.attributes
        assert "tokentrail.tenant" not in point.attributes


class TestBaggage:
    def test_a_propagating_block_sends_attribution_with_the_user_id_hashed(self):
        carrier: dict[str, str] = {}
        with attribute(feature="search", team="core", user_id="u-42", tenant="t1", propagate=True):
            assert dict(baggage.get_all()) == {
                "tokentrail.feature": "search",
                "tokentrail.team": "core",
                "tokentrail.user_hash": hash_user_id("u-42"),
            }
            W3CBaggagePropagator().inject(carrier)
        assert dict(baggage.get_all()) == {}
        header = carrier["baggage"]
        assert "u-42" not in header
        assert f"tokentrail.user_hash={hash_user_id('u-42')}" in header
        assert "tenant" not in header  # only the four attribution keys travel

    def test_nothing_is_sent_unless_asked(self):
        with attribute(feature="search"):
            assert dict(baggage.get_all()) == {}
        configure_baggage(send=True)
        with attribute(feature="search"):
            assert baggage.get_baggage("tokentrail.feature") == "search"
            with attribute(feature=None, propagate=True):
                assert baggage.get_baggage("tokentrail.feature") is None

    def test_the_hash_is_keyed(self):
        plain = hash_user_id("u-42")
        configure_baggage(hash_key="shared-secret")
        assert hash_user_id("u-42") != plain
        assert len(hash_user_id("u-42")) == 32

    def test_a_receiving_service_attributes_its_calls_from_incoming_baggage(self):
        incoming = {"baggage": "tokentrail.feature=search,tokentrail.team=core,"
                               f"tokentrail.user_hash={hash_user_id('u-42')},other=x"}  # fmt: skip
        token = otel_context.attach(W3CBaggagePropagator().extract(incoming))
        try:
            assert values() == {}  # not trusted unless enabled
            configure_baggage(receive=True)
            assert values() == {
                "feature": "search",
                "team": "core",
                "user_id": hash_user_id("u-42"),
            }
            with attribute(feature="rerank"):  # local blocks win
                assert values()["feature"] == "rerank"
                assert values()["team"] == "core"
            fake = FakeOpenAI()
            with capture() as telemetry:
                fake.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                span = telemetry.span()
            assert span.attributes["user.id"] == hash_user_id("u-42")
            assert span.attributes["tokentrail.feature"] == "search"
            # passing it on downstream keeps the same hash (not a hash of the hash)
            configure_baggage(send=True, receive=True)
            with attribute(endpoint="/inner"):
                assert baggage.get_baggage("tokentrail.user_hash") == hash_user_id("u-42")
        finally:
            otel_context.detach(token)

    def test_configured_by_the_environment_for_the_life_of_the_instrumentation(self, monkeypatch):
        monkeypatch.setenv("TOKENTRAIL_ATTRIBUTION_BAGGAGE", "send")
        with capture(), attribute(team="core"):
            assert baggage.get_baggage("tokentrail.team") == "core"
        with attribute(team="core"):
            assert baggage.get_baggage("tokentrail.team") is None
        monkeypatch.setenv("TOKENTRAIL_ATTRIBUTION_BAGGAGE", "sometimes")
        with pytest.raises(tokentrail.ConfigurationError, match="off, send, receive or both"):
            tokentrail.instrument()
