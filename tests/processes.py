"""Processes for the tests that run real programs: free loopback ports, servers in their own
process groups (stopped with everything they spawned, whatever happens), polling instead of
sleeping, and JSON over HTTP. The process handling is the local stack's own
(``tokentrail.stack.processes``), so tests and ``tokentrail stack`` start servers one way."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tokentrail.stack.processes import (  # noqa: F401 - tests import these from here
    Process,
    free_port,
    free_ports,
    http_ok,
    running,
    wait_until,
)


def require_binary(name_or_path: str | Path, how_to_get: str, *, skip_outside_ci=True) -> str:
    """An executable's path. Without it the test fails under CI (env ``CI`` set); elsewhere
    it is skipped, unless ``skip_outside_ci`` is False."""
    found = shutil.which(str(name_or_path))
    if found:
        return found
    message = f"{name_or_path} not found; {how_to_get}"
    if os.environ.get("CI") or not skip_outside_ci:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def get_json(url: str, data: bytes | None = None, **params: str | list[str]) -> Any:
    """GET (or POST JSON ``data`` to) a JSON API: the decoded answer, None for an empty one.
    HTTP errors are answers too: Prometheus explains them in JSON."""
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    return json.loads(body) if body else None
