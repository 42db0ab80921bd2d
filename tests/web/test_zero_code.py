"""Zero-code: ``opentelemetry-instrument`` instruments a FastAPI app (the FastAPI
instrumentation's entry point) and its LLM calls (tokentrail's), with the features file from
``TOKENTRAIL_FEATURES_FILE``; the calls' spans carry the route and its feature. The app runs in
a fresh interpreter, serves one request to itself on a loopback port and exits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))

APP = """
import socket, threading, time, urllib.request

import uvicorn
from fastapi import FastAPI

from tokentrail.fakes.openai import FakeOpenAI

app = FastAPI()
client = FakeOpenAI().async_client()


@app.get("/users/{user_id}/summary")
async def summary(user_id: int):
    await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise"}]
    )
    return {"user": user_id}


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
thread.start()
deadline = time.monotonic() + 30
while not server.started and time.monotonic() < deadline:
    time.sleep(0.01)
port = sock.getsockname()[1]
urllib.request.urlopen(f"http://127.0.0.1:{port}/users/42/summary", timeout=10).read()
server.should_exit = True
thread.join(10)
"""


def test_the_route_and_its_feature_from_the_environment(tmp_path):
    if INSTRUMENT is None:
        pytest.fail("opentelemetry-instrument is missing: install the dev extra")
    app = tmp_path / "app.py"
    app.write_text(APP)
    features = tmp_path / "features.yaml"
    features.write_text("features:\n  /users/*: summaries\n")
    environ = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-fastapi",
        "TOKENTRAIL_FEATURES_FILE": str(features),
    }
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(app)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    spans = _console_spans(result.stdout)
    [server] = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert server["attributes"]["http.route"] == "/users/{user_id}/summary"
    [call] = [s for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert call["attributes"]["tokentrail.endpoint"] == "/users/{user_id}/summary"
    assert call["attributes"]["tokentrail.feature"] == "summaries"


def _console_spans(text: str) -> list[dict]:
    """The spans the console exporter printed: JSON objects one after another."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        span, at = decoder.raw_decode(text, at)
        spans.append(span)
    return spans
