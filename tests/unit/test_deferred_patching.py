"""``instrument()`` does not import the SDK modules it patches: a module the app has not
imported yet (openai 3 loads its resource modules lazily, on first use) is patched when it is
imported. Each scenario runs in a fresh interpreter, where nothing is imported yet."""

import subprocess
import sys
import textwrap

import pytest


def _run(code: str, prelude: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "TOKENTRAIL_STRICT": "1",
            "PATH": "/usr/bin:/bin",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


PRELUDE = """
import sys
import openai
import tokentrail
from tokentrail.testing import Telemetry
from tokentrail.fakes.openai import FakeOpenAI
telemetry = Telemetry()
"""


def test_a_module_imported_after_instrument_is_patched_on_import():
    out = _run(
        prelude=PRELUDE,
        code="""
        assert "openai.resources.responses" not in sys.modules, "precondition: not imported"
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        print("imported by instrument():", "openai.resources.responses" in sys.modules)
        client = FakeOpenAI().client()
        client.responses.create(model="gpt-4o", input="hi")   # the SDK imports it now
        print("spans:", [s.name for s in telemetry.spans()])
        tokentrail.uninstrument()
        from openai.resources.responses import Responses
        print("restored:", not hasattr(Responses.__dict__["create"], "_self_wrapper"))
        """,
    )
    assert "imported by instrument(): False" in out
    assert "spans: ['chat gpt-4o']" in out
    assert "restored: True" in out


def test_uninstrument_before_the_import_leaves_the_module_alone():
    out = _run(
        prelude=PRELUDE,
        code="""
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        tokentrail.uninstrument()
        client = FakeOpenAI().client()
        client.responses.create(model="gpt-4o", input="hi")
        from openai.resources.responses import Responses
        print("wrapped:", hasattr(Responses.__dict__["create"], "_self_wrapper"))
        print("spans:", len(telemetry.spans()))
        """,
    )
    assert "wrapped: False" in out
    assert "spans: 0" in out


def test_instrument_again_before_the_import_patches_once():
    out = _run(
        prelude=PRELUDE,
        code="""
        for _ in range(3):
            tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                                  meter_provider=telemetry.meter_provider)
            tokentrail.uninstrument()
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        client = FakeOpenAI().client()
        client.embeddings.create(model="text-embedding-3-small", input="hi")
        print("spans:", len(telemetry.spans()))
        """,
    )
    assert "spans: 1" in out


@pytest.mark.parametrize(
    "sdk", ["openai", "anthropic", "google.genai", "boto3", "mistralai", "litellm"]
)
def test_instrument_imports_nothing_heavy(sdk):
    """Importing tokentrail and instrumenting pulls in no SDK module the app did not import."""
    out = _run(
        f"""
        import sys
        import {sdk}
        before = set(sys.modules)
        import tokentrail
        tokentrail.instrument()
        # a namespace package (e.g. the bare "google" searched for google.genai) runs no code
        new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in
                     ("openai", "anthropic", "google", "boto3", "botocore", "mistralai",
                      "litellm") and
                     getattr(sys.modules[m], "__file__", None) is not None)
        print("new SDK modules:", new)
        """
    )
    assert "new SDK modules: []" in out


def test_botocore_imported_after_instrument_is_patched_on_import():
    """boto3 imported after ``instrument()`` (botocore.client with it): its Bedrock calls are
    instrumented from then on, and ``uninstrument()`` restores the method."""
    out = _run(
        """
        import sys
        import tokentrail
        from tokentrail.testing import Telemetry
        telemetry = Telemetry()
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        print("imported by instrument():", "botocore.client" in sys.modules)
        from tokentrail.fakes.bedrock import FakeBedrock   # imports boto3 when a client is made
        with FakeBedrock() as fake:
            fake.client().converse(modelId="meta.llama3-1-8b-instruct-v1:0",
                                   messages=[{"role": "user", "content": [{"text": "hi"}]}])
        print("spans:", [s.name for s in telemetry.spans()])
        tokentrail.uninstrument()
        from botocore.client import BaseClient
        print("restored:", not hasattr(BaseClient.__dict__["_make_api_call"], "_self_wrapper"))
        """
    )
    assert "imported by instrument(): False" in out
    assert "spans: ['chat meta.llama3-1-8b-instruct-v1:0']" in out
    assert "restored: True" in out
