"""``tokentrail stack`` as a user runs it: ``up`` starts the built Collector, Jaeger,
Prometheus and Alertmanager wired to each other, ``status`` reports them, and ``down``, Ctrl-C
or SIGTERM stop every process it started, even after its own ``up`` was killed.

Each test gives the stack a directory and free ports of its own, so it never meets a stack a
developer runs on the default ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.contract.test_collector_configs import read_env_file
from tests.processes import get_json, http_ok, http_text, wait_until
from tests.stack_cli import (
    REPO,
    free_port_args,
    processes_using,
    run_stack,
    stack_command,
)
from tokentrail.stack import BINARIES, Ports, StackError

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _binaries():
    try:
        for binary in BINARIES.values():
            binary.find(REPO)
    except StackError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


def recorded_pids(directory: Path) -> list[int]:
    state = json.loads((directory / "state.json").read_text())
    return [s["pid"] for s in state["services"]]


def assert_nothing_left(directory: Path) -> None:
    assert processes_using(directory) == []
    assert not (directory / "state.json").exists()


@dataclass(frozen=True)
class RunningStack:
    directory: Path
    ports: Ports
    up_output: str

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}"

    def wait_for_service_in_jaeger(self, service: str) -> None:
        services = f"{self.url('jaeger_ui')}/api/services"
        # Jaeger answers "data": null until it has seen a service
        wait_until(
            lambda: service in (get_json(services)["data"] or ()),
            timeout=30,
            what=f"{service} traces",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, _binaries: None) -> Iterator[RunningStack]:
    """`tokentrail stack up --detach`, for the module; `down` after it, leaving nothing."""
    directory = tmp_path_factory.mktemp("stack")
    ports, port_args = free_port_args()
    up = run_stack("up", directory, "--detach", *port_args)
    assert up.returncode == 0, up.stderr
    try:
        yield RunningStack(directory, ports, up.stdout)
    finally:
        down = run_stack("down", directory)
    assert down.returncode == 0
    assert down.stdout.startswith("stopped alertmanager (pid ")
    assert_nothing_left(directory)
    assert run_stack("status", directory).returncode == 1


def test_up_prints_the_urls_status_reports_them_healthy(stack):
    for name in ("otlp_http", "jaeger_ui", "prometheus", "alertmanager"):
        assert stack.url(name) in stack.up_output
    assert len(recorded_pids(stack.directory)) == 4
    status = run_stack("status", stack.directory)
    assert status.returncode == 0, status.stdout
    assert [line.split()[:2] for line in status.stdout.splitlines()] == [
        ["alertmanager", "healthy"],
        ["prometheus", "healthy"],
        ["jaeger", "healthy"],
        ["collector", "healthy"],
    ]
    again = run_stack("up", stack.directory, *free_port_args()[1])
    assert again.returncode == 1
    assert "a stack is already running" in again.stderr


def test_prometheus_loads_the_rules_and_alerts_to_the_stacks_alertmanager(stack):
    prometheus = stack.url("prometheus")
    rules = get_json(f"{prometheus}/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in rules} == {"tokentrail.recording", "tokentrail.alerts"}
    managers = wait_until(  # discovered on Prometheus's 5 s tick
        lambda: get_json(f"{prometheus}/api/v1/alertmanagers")["data"]["activeAlertmanagers"],
        timeout=30,
        what="Prometheus to find Alertmanager",
    )
    assert [m["url"] for m in managers] == [f"{stack.url('alertmanager')}/api/v2/alerts"]
    # routed like dashboards/alertmanager/alertmanager.yml
    routing = get_json(f"{stack.url('alertmanager')}/api/v2/status")
    assert "tokentrail-pagerduty" in routing["config"]["original"]


def app_environment(**settings: str) -> dict[str, str]:
    """This environment without OTEL_* or TOKENTRAIL_* settings, plus ``settings``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    return {**environ, "OPENAI_API_KEY": "", **settings}


def test_the_demo_shows_in_jaeger_and_prometheus(stack):
    environ = app_environment(
        OTEL_EXPORTER_OTLP_ENDPOINT=stack.url("otlp_http"), OTEL_SERVICE_NAME="stack-demo"
    )
    demo = subprocess.run(
        [sys.executable, "-m", "tokentrail.cli", "demo", "--rounds", "1", "--quiet",
         "--latency", "0.005"],
        env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    stack.wait_for_service_in_jaeger("stack-demo")
    cost = f"{stack.url('prometheus')}/api/v1/query?query=sum(tokentrail_cost_usd_total)"
    wait_until(lambda: get_json(cost)["data"]["result"], timeout=30, what="demo cost")


def test_the_manual_example_reaches_the_stack(stack):
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "manual" / "main.py")],
        env=app_environment(OTEL_EXPORTER_OTLP_ENDPOINT=stack.url("otlp_http")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    stack.wait_for_service_in_jaeger("support-api")


def test_the_zero_code_example_with_its_env_file_reaches_the_stack(stack):
    example = REPO / "examples" / "zero-code"
    settings = read_env_file(example / ".env")
    settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = stack.url("otlp_http")  # not on the default port
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    result = subprocess.run(
        [str(instrument), sys.executable, "main.py"],
        cwd=example,
        env=app_environment(**settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    stack.wait_for_service_in_jaeger(settings["OTEL_SERVICE_NAME"])


def test_the_web_uis_are_served_when_present(tmp_path):
    """Jaeger serves the jaeger-ui assets given with --jaeger-ui; Debian's Alertmanager, the
    UI that collector/install-alertmanager-ui.sh unpacked (when it was run)."""
    ui = tmp_path / "jaeger-ui"
    ui.mkdir()
    (ui / "index.html").write_text("<html><body>a jaeger-ui build</body></html>")
    ports, port_args = free_port_args()
    up = run_stack("up", tmp_path / "stack", "--detach", "--jaeger-ui", str(ui), *port_args)
    assert up.returncode == 0, up.stderr
    try:
        assert "no web UI" not in up.stdout.split("jaeger")[1].splitlines()[0]
        page = http_text(f"http://127.0.0.1:{ports.jaeger_ui}/")
        assert "a jaeger-ui build" in page
        alertmanager_ui = REPO / "collector" / "_build" / "alertmanager-ui" / "index.html"
        if alertmanager_ui.exists() or os.environ.get("CI"):  # CI runs the script
            page = http_text(f"http://127.0.0.1:{ports.alertmanager}/")
            assert "script.js" in page
            assert "does not include a web application" not in page
    finally:
        assert run_stack("down", tmp_path / "stack").returncode == 0


def spawn_up(directory: Path, *args: str) -> subprocess.Popen[str]:
    """``tokentrail stack up`` in the foreground, in a session of its own (as a shell runs it
    in a terminal), its output on a pipe."""
    return subprocess.Popen(
        stack_command("up", directory, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def start_foreground(directory: Path, *args: str) -> subprocess.Popen[str]:
    """:func:`spawn_up`, returning once it says the stack is up."""
    process = spawn_up(directory, *args)
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("Stop it:"):
            return process
    process.wait()
    pytest.fail("".join(output))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_every_server(tmp_path, signum):
    _, port_args = free_port_args()
    up = start_foreground(tmp_path, *port_args)
    pids = recorded_pids(tmp_path)
    assert all(Path(f"/proc/{pid}").exists() for pid in pids)
    up.send_signal(signum)
    assert up.wait(timeout=30) == 0
    assert up.stdout is not None
    assert up.stdout.read().splitlines()[-1] == "stopped"
    assert_nothing_left(tmp_path)


def test_ctrl_c_while_starting_stops_what_started(tmp_path):
    _, port_args = free_port_args()
    up = spawn_up(tmp_path, *port_args)
    assert up.stdout is not None
    assert up.stdout.readline().startswith("starting the local stack")
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=60) == 0
    assert up.stdout.read().splitlines()[-1] == "stopped"
    assert_nothing_left(tmp_path)


def test_down_stops_a_foreground_stack_and_its_up(tmp_path):
    _, port_args = free_port_args()
    up = start_foreground(tmp_path, *port_args)
    down = run_stack("down", tmp_path)
    assert down.returncode == 0, down.stderr
    assert up.wait(timeout=30) == 0
    assert_nothing_left(tmp_path)


def test_down_stops_the_servers_of_an_up_that_was_killed(tmp_path):
    _, port_args = free_port_args()
    up = start_foreground(tmp_path, *port_args)
    up.kill()
    up.wait()
    assert len(processes_using(tmp_path)) == 4  # orphans, still serving
    down = run_stack("down", tmp_path)
    assert down.returncode == 0
    assert len(down.stdout.split("(pid ")) == 5  # all four named
    assert_nothing_left(tmp_path)


def test_a_port_in_use_is_named_and_nothing_starts(tmp_path):
    ports, port_args = free_port_args()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.prometheus))
        taken.listen()
        up = run_stack("up", tmp_path, *port_args)
    assert up.returncode == 1
    assert up.stderr.splitlines() == [
        f"tokentrail stack: error: port {ports.prometheus} (prometheus) is in use: stop what "
        f"listens there, or choose another with --port prometheus=PORT"
    ]
    assert_nothing_left(tmp_path)


def test_a_server_that_dies_stops_the_stack(tmp_path):
    ports, port_args = free_port_args()
    up = start_foreground(tmp_path, *port_args)
    jaeger = json.loads((tmp_path / "state.json").read_text())["services"][2]
    assert jaeger["name"] == "jaeger"
    os.kill(jaeger["pid"], signal.SIGKILL)
    assert up.wait(timeout=30) == 1
    assert up.stdout is not None
    last = up.stdout.read().splitlines()[-1]
    assert last.startswith("tokentrail stack: error: jaeger exited with status -9")
    assert_nothing_left(tmp_path)
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        http_ok(f"http://127.0.0.1:{ports.prometheus}/-/ready")
