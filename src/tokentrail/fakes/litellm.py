"""The fake providers, reached through LiteLLM.

LiteLLM has no API of its own: it talks to each provider's. Its openai route takes a client
(``client=FakeOpenAI().client()``); its own HTTP code (Anthropic, Gemini, Mistral ...) takes
no transport, only a base URL, so those fakes are served on loopback ports (``serve``).

>>> fakes = FakeProviders()
>>> litellm.completion(messages=[...], **fakes.route("anthropic/claude-haiku-4-5"))
>>> fakes.close()

Importing LiteLLM fetches its price list from the internet unless
``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set first: the tests and the demo set it.
"""

from __future__ import annotations

import weakref
from typing import Any

from ._loopback import LoopbackServer, serve
from .anthropic import FakeAnthropic
from .google_genai import FakeGemini
from .mistral import FakeMistral
from .openai import FakeOpenAI

API_KEY = "fake-key-for-tests"
#: the path under the server that each LiteLLM provider expects its ``api_base`` to end with
_BASE_PATHS = {"openai": "/v1", "anthropic": "", "gemini": "", "mistral": "/v1"}


class FakeProviders:
    """One fake per provider LiteLLM is tested against (``openai``, ``anthropic``,
    ``gemini``, ``mistral``), each on its own loopback server, started when first routed to
    and stopped by ``close()`` (or when this object is collected). ``latency`` and
    ``stream_chunks`` go to every fake."""

    def __init__(self, *, latency: float = 0.0, stream_chunks: int | None = None) -> None:
        self.openai = FakeOpenAI(latency=latency, stream_chunks=stream_chunks)
        self.anthropic = FakeAnthropic(latency=latency, stream_chunks=stream_chunks)
        self.gemini = FakeGemini(latency=latency, stream_chunks=stream_chunks)
        self.mistral = FakeMistral(latency=latency, stream_chunks=stream_chunks)
        self._servers: dict[str, LoopbackServer] = {}
        weakref.finalize(self, _close, self._servers)

    def fake(self, provider: str) -> Any:
        return getattr(self, provider)

    def url(self, provider: str) -> str:
        """The ``api_base`` that sends LiteLLM's ``provider`` route to its fake."""
        server = self._servers.get(provider)
        if server is None:
            server = self._servers[provider] = serve(self.fake(provider))
        return server.url + _BASE_PATHS[provider]

    def route(self, model: str, **kwargs: Any) -> dict[str, Any]:
        """The keyword arguments of a LiteLLM call of ``model`` (``"anthropic/claude-..."``;
        no prefix: openai) that reach the fake: ``model``, ``api_base``, ``api_key``."""
        provider = model.split("/", 1)[0] if "/" in model else "openai"
        return {"model": model, "api_base": self.url(provider), "api_key": API_KEY, **kwargs}

    def close(self) -> None:
        _close(self._servers)

    def __enter__(self) -> FakeProviders:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _close(servers: dict[str, LoopbackServer]) -> None:
    for server in servers.values():
        server.close()
    servers.clear()
