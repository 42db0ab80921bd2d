"""The one list of the SDKs tokentrail instruments. ``tokentrail.instrument(providers=...)``,
``tokentrail doctor``, the entry points in pyproject.toml and the README's table are derived
from it (tests/unit/test_providers.py checks that they agree).

Importing this module imports no SDK and no instrumentor.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Provider:
    """One instrumented SDK."""

    #: the name in ``instrument(providers=[...])``; the package ``instrumentation/<name>``
    name: str
    #: the SDK's import name (what the application imports)
    module: str
    #: its distribution on PyPI
    distribution: str
    #: the instrumentor class in ``instrumentation/<name>/__init__.py``
    instrumentor_class: str
    #: the pyproject extra that installs the SDK
    extra: str
    #: other instrumentations of the same SDK: installed together, each call is reported twice
    others: tuple[str, ...] = ()
    #: competing tracing that is configured in the application's code, where ``tokentrail
    #: doctor`` cannot see it: said whenever the SDK is installed
    notes: tuple[str, ...] = ()
    #: its page in docs/, if it has one
    docs: str | None = None

    @property
    def package(self) -> str:
        return f"tokentrail.instrumentation.{self.name}"

    @property
    def entry_point(self) -> str:
        """Its ``opentelemetry_instrumentor`` entry point (for
        ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``)."""
        return f"tokentrail_{self.name}"

    @property
    def supported(self) -> tuple[str, ...]:
        """The supported SDK versions (``package.py``), as requirement strings."""
        return importlib.import_module(f"{self.package}.package")._instruments

    def installed(self) -> bool:
        """The SDK can be imported here (without importing it)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:  # its parent package is missing
            return False

    def instrumentor(self) -> Any:
        """The instrumentor class (imports the provider package, not the SDK)."""
        return getattr(importlib.import_module(self.package), self.instrumentor_class)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "openai",
        "openai",
        "openai",
        "OpenAIInstrumentor",
        extra="openai",
        others=(
            "opentelemetry-instrumentation-openai",
            "opentelemetry-instrumentation-openai-v2",
            "opentelemetry-instrumentation-genai-openai",
            "openinference-instrumentation-openai",
            "openlit",
            "traceloop-sdk",
            "langfuse",
        ),
    ),
    Provider(
        "anthropic",
        "anthropic",
        "anthropic",
        "AnthropicInstrumentor",
        extra="anthropic",
        others=(
            "opentelemetry-instrumentation-anthropic",
            "opentelemetry-instrumentation-genai-anthropic",
            "openinference-instrumentation-anthropic",
            "openlit",
            "traceloop-sdk",
        ),
        docs="docs/anthropic.md",
    ),
    Provider(
        "google_genai",
        "google.genai",
        "google-genai",
        "GoogleGenAIInstrumentor",
        extra="gemini",
        others=(
            "opentelemetry-instrumentation-google-genai",
            "opentelemetry-instrumentation-google-generativeai",
            "openinference-instrumentation-google-genai",
            "openlit",
            "traceloop-sdk",
        ),
        docs="docs/google_genai.md",
    ),
    Provider(
        "bedrock",
        "boto3",
        "boto3",
        "BedrockInstrumentor",
        extra="bedrock",
        others=(
            "opentelemetry-instrumentation-botocore",
            "opentelemetry-instrumentation-bedrock",
            "openinference-instrumentation-bedrock",
            "openlit",
            "traceloop-sdk",
        ),
        docs="docs/bedrock.md",
    ),
    Provider(
        "mistralai",
        "mistralai",
        "mistralai",
        "MistralInstrumentor",
        extra="mistralai",
        others=(
            "opentelemetry-instrumentation-mistralai",
            "openinference-instrumentation-mistralai",
            "openlit",
            "traceloop-sdk",
        ),
        docs="docs/mistralai.md",
    ),
    Provider(
        "litellm",
        "litellm",
        "litellm",
        "LiteLLMInstrumentor",
        extra="litellm",
        others=(
            "opentelemetry-instrumentation-litellm",
            "openinference-instrumentation-litellm",
            "openlit",
            "traceloop-sdk",
        ),
        notes=(
            "LiteLLM's own OpenTelemetry callback (litellm.callbacks = ['otel']) reports each "
            "call too: leave it off (tokentrail warns when it finds it on)",
        ),
        docs="docs/litellm.md",
    ),
)

BY_NAME: dict[str, Provider] = {p.name: p for p in PROVIDERS}
