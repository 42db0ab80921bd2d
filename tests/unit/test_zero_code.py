"""Zero-code use: ``opentelemetry-instrument python app.py`` finds each tokentrail
instrumentor through its entry point, and ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns it
off. The apps run in fresh interpreters, as a user's would."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tokentrail.instrumentation.providers import PROVIDERS

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
EXAMPLE = Path(__file__).parents[2] / "examples" / "zero-code" / "main.py"

ANTHROPIC_APP = """
from tokentrail.fakes.anthropic import FakeAnthropic

client = FakeAnthropic().client(open_telemetry=False)
client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                       messages=[{"role": "user", "content": "Hello from zero-code"}])
"""
GEMINI_APP = """
from tokentrail.fakes.google_genai import FakeGemini

client = FakeGemini().client()
client.models.generate_content(model="gemini-2.5-flash", contents="Hello from zero-code")
"""
LITELLM_APP = """
import litellm
from tokentrail.fakes.litellm import FakeProviders

with FakeProviders() as fakes:
    litellm.completion(messages=[{"role": "user", "content": "Hello from zero-code"}],
                       **fakes.route("anthropic/claude-haiku-4-5"))
"""

BEDROCK_APP = """
from tokentrail.fakes.bedrock import FakeBedrock

with FakeBedrock() as fake:
    fake.client().converse(
        modelId="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        messages=[{"role": "user", "content": [{"text": "Hello from zero-code"}]}],
    )
"""

MISTRAL_APP = """
from tokentrail.fakes.mistral import FakeMistral

client = FakeMistral().client()
client.chat.complete(model="mistral-small-latest",
                     messages=[{"role": "user", "content": "Hello from zero-code"}])
"""

# entry point, the app, what its span must show (the first: only tokentrail's span shows it)
CASES = {
    "openai": ("tokentrail_openai", None,
               ["chat gpt-4o-mini", '"tokentrail.feature": "release-notes"']),
    "anthropic": ("tokentrail_anthropic", ANTHROPIC_APP,
                  ["chat claude-haiku-4-5", '"gen_ai.provider.name": "anthropic"']),
    "google_genai": ("tokentrail_google_genai", GEMINI_APP,
                     ["generate_content gemini-2.5-flash", '"gen_ai.provider.name": "gcp.gemini"']),
    "bedrock": ("tokentrail_bedrock", BEDROCK_APP,
                ["chat us.anthropic.claude-haiku-4-5-20251001-v1:0",
                 '"gen_ai.provider.name": "aws.bedrock"']),
    # mistralai 1.10 to 2.x trace their calls themselves under the global tracer provider
    "mistralai": ("tokentrail_mistralai", MISTRAL_APP,
                  ['"tokentrail.cost.status": "priced"', "chat mistral-small-latest"]),
    "litellm": ("tokentrail_litellm", LITELLM_APP,
                ["chat claude-haiku-4-5", '"gen_ai.provider.name": "anthropic"']),
}  # fmt: skip


def _run(tmp_path: Path, provider: str, **env: str) -> str:
    if INSTRUMENT is None:
        pytest.fail("opentelemetry-instrument is missing: install the dev extra")
    _, source, _ = CASES[provider]
    app = EXAMPLE
    if source is not None:
        app = tmp_path / "app.py"
        app.write_text(source)
    environ = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": f"zero-code-{provider}",
        "OPENAI_API_KEY": "",
        **env,
    }
    environ.pop("TOKENTRAIL_STRICT", None)
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(app)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_provider_has_a_case():
    assert set(CASES) == {p.name for p in PROVIDERS}


@pytest.mark.parametrize("provider", list(CASES))
def test_the_entry_point_instruments_the_app(tmp_path, provider):
    out = _run(tmp_path, provider)
    for expected in CASES[provider][2]:
        assert expected in out
    assert '"gen_ai.usage.cost"' in out


@pytest.mark.parametrize("provider", list(CASES))
def test_disabled_by_the_otel_variable(tmp_path, provider):
    entry_point, _, expected = CASES[provider]
    out = _run(tmp_path, provider, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=entry_point)
    assert expected[0] not in out
    assert "gen_ai.usage.cost" not in out


def test_the_console_command_prints_spans_and_nothing_else(tmp_path):
    """Without a Collector (the README's first zero-code command): spans on stdout, and no
    screen of connection errors, or any other message, on stderr."""
    example = EXAMPLE.parent
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    environ |= {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OPENAI_API_KEY": "",
    }
    result = subprocess.run(
        [INSTRUMENT, sys.executable, "main.py"],
        cwd=example,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert '"name": "chat gpt-4o-mini"' in result.stdout
