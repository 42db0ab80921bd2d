"""The local stack: Alertmanager, Prometheus, Jaeger and the Collector on loopback ports,
started in that order (each waited for until it serves), recorded in a state file so that
another invocation can report on them and stop them, and stopped all together."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import servers
from .processes import Process, is_running, port_in_use, start_time, stop_recorded, wait_until
from .repository import BINARIES, Repository, StackError

STATE_FILE = "state.json"
JAEGER_WITHOUT_UI = "HTTP API only: this Jaeger build has no web UI; --jaeger-ui DIR adds one"
ALERTMANAGER_WITHOUT_UI = (
    "API only: Debian's package has no web UI; collector/install-alertmanager-ui.sh adds it"
)
#: how long each server gets to start serving
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Ports:
    """The stack's loopback ports; the defaults are each program's usual port, except Jaeger's
    OTLP receiver, which leaves 4317 to the Collector."""

    otlp_grpc: int = 4317
    otlp_http: int = 4318
    collector_metrics: int = 8889
    collector_health: int = 13133
    collector_telemetry: int = 8888
    jaeger_otlp: int = 14317
    jaeger_ui: int = 16686
    jaeger_grpc: int = 16685
    prometheus: int = 9090
    alertmanager: int = 9093

    @classmethod
    def names(cls) -> list[str]:
        """As the command line spells them: ``otlp-http``, ``jaeger-ui``, ..."""
        return [f.name.replace("_", "-") for f in dataclasses.fields(cls)]

    def replace(self, name: str, port: int) -> Ports:
        return dataclasses.replace(self, **{name.replace("-", "_"): port})

    def owners(self) -> dict[int, str]:
        return {getattr(self, f.name): f.name.replace("_", "-") for f in dataclasses.fields(self)}


def _address(port: int) -> str:
    return f"{servers.LOOPBACK}:{port}"


@dataclass(frozen=True)
class Service:
    """A server of the stack as recorded: what it is, how to tell it runs, where to look."""

    name: str
    pid: int
    started: int | None
    health_url: str
    url: str
    log: str
    note: str = ""  # shown next to the URL, e.g. what is missing

    def running(self) -> bool:
        return is_running(self.pid, self.started)

    def healthy(self) -> bool:
        try:
            return self.running() and servers.http_ok(self.health_url)
        except OSError:
            return False


@dataclass
class State:
    """What ``state.json`` in the stack's directory records."""

    supervisor: int | None  # the foreground `tokentrail stack up`, if any
    supervisor_started: int | None
    services: list[Service] = field(default_factory=list)
    otlp_http_url: str = ""
    otlp_grpc: str = ""

    def save(self, directory: Path) -> None:
        path = directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, directory: Path) -> State | None:
        """The recorded state (None: nothing recorded). Fields this version does not know are
        ignored, so that a stack started by another version can still be stopped."""
        path = directory / STATE_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            services = [Service(**_known(Service, s)) for s in data.get("services", [])]
            return cls(**{**_known(cls, data), "services": services})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise StackError(f"{path}: unreadable ({exc}); stop its processes by hand") from None

    def running(self) -> list[Service]:
        return [s for s in self.services if s.running()]

    def supervisor_running(self) -> bool:
        return self.supervisor is not None and is_running(self.supervisor, self.supervisor_started)


@dataclass(frozen=True)
class _Starting:
    """A server just started, not yet serving."""

    process: Process
    ready: Callable[[], bool]
    health_url: str
    url: str
    note: str


def _known(kind: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the keys that the dataclass ``kind`` has no field for."""
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in data.items() if k in names}


class Stack:
    """Start the servers of one stack directory (configs, data and logs go there)."""

    ORDER = ("alertmanager", "prometheus", "jaeger", "collector")

    def __init__(
        self,
        repo: Repository,
        directory: Path,
        ports: Ports | None = None,
        *,
        jaeger_ui: Path | None = None,
        alert_webhook: str | None = None,
        interval: str = "5s",
    ) -> None:
        self.repo = repo
        self.directory = directory
        self.ports = ports or Ports()
        self.jaeger_ui = jaeger_ui
        self.alert_webhook = alert_webhook
        self.interval = interval
        self.collector = servers.CollectorEndpoints(
            otlp_grpc=_address(self.ports.otlp_grpc),
            otlp_http=_address(self.ports.otlp_http),
            prometheus_exporter=_address(self.ports.collector_metrics),
            health_check=_address(self.ports.collector_health),
            telemetry_port=self.ports.collector_telemetry,
        )
        self.jaeger = servers.JaegerEndpoints(
            otlp_grpc=_address(self.ports.jaeger_otlp),
            query_http=_address(self.ports.jaeger_ui),
            query_grpc=_address(self.ports.jaeger_grpc),
        )
        self.prometheus = _address(self.ports.prometheus)
        self.alertmanager = _address(self.ports.alertmanager)
        self._processes: list[Process] = []

    # -- before anything starts ---------------------------------------------------------------

    def preflight(self) -> dict[str, str]:
        """The binaries, found; :class:`StackError` for the first thing that stops the stack
        from starting (a missing binary, a port in use, a stack already running here)."""
        state = State.load(self.directory)
        if state is not None and (state.running() or state.supervisor_running()):
            raise StackError(
                f"a stack is already running from {self.directory} "
                "(tokentrail stack status; tokentrail stack down)"
            )
        binaries = {name: BINARIES[name].find(self.repo.root) for name in self.ORDER}
        if self.jaeger_ui is not None and not (self.jaeger_ui / "index.html").is_file():
            raise StackError(f"--jaeger-ui {self.jaeger_ui}: no index.html there")
        owners = self.ports.owners()
        if len(owners) < len(dataclasses.fields(self.ports)):
            raise StackError("two services were given the same port")
        for port, owner in sorted(owners.items()):
            if port_in_use(servers.LOOPBACK, port):
                raise StackError(
                    f"port {port} ({owner}) is in use: stop what listens there, or choose "
                    f"another with --port {owner}=PORT"
                )
        return binaries

    # -- up ---------------------------------------------------------------------------------------

    def start(
        self,
        binaries: dict[str, str] | None = None,
        on_ready: Callable[[Service], None] = lambda service: None,
    ) -> State:
        """Start every server (``binaries``: what :meth:`preflight` found) and wait until it
        serves; stop those already started if one fails (or on Ctrl-C). Returns the state,
        not yet saved."""
        binaries = binaries or self.preflight()
        self.directory.mkdir(parents=True, exist_ok=True)
        state = State(
            None,
            None,
            otlp_http_url=self.collector.otlp_http_url,
            otlp_grpc=self.collector.otlp_grpc,
        )
        try:
            for name in self.ORDER:
                service = self._start(name, binaries[name])
                state.services.append(service)
                on_ready(service)
        except BaseException:
            self.stop()
            raise
        return state

    def _start(self, name: str, binary: str) -> Service:
        starting: _Starting = getattr(self, f"_start_{name}")(binary)
        process = starting.process
        self._processes.append(process)
        try:
            wait_until(
                starting.ready, timeout=READY_TIMEOUT_S, what=f"{name} to serve", process=process
            )
        except (RuntimeError, TimeoutError):
            last = process.log_tail(1).strip() or "(nothing logged)"
            raise StackError(f"{name} did not start: {last} (log: {process.log_path})") from None
        return Service(
            name,
            process.pid,
            process.started,
            starting.health_url,
            starting.url,
            str(process.log_path),
            starting.note,
        )

    def _start_alertmanager(self, binary: str) -> _Starting:
        routing = yaml.safe_load(self.repo.alertmanager_routing.read_text())
        config = servers.routing_without_integrations(routing, self.alert_webhook)
        ui = self.repo.build_dir / "alertmanager-ui"
        separate_ui = servers.takes_ui_path(binary)
        ui_path = ui if separate_ui and (ui / "index.html").is_file() else None
        process = servers.start_alertmanager(
            binary, self.alertmanager, config, self.directory, ui_path=ui_path
        )
        url = f"http://{self.alertmanager}"
        return _Starting(
            process,
            lambda: servers.alertmanager_ready(self.alertmanager),
            url + "/-/ready",
            url,
            ALERTMANAGER_WITHOUT_UI if separate_ui and ui_path is None else "",
        )

    def _start_prometheus(self, binary: str) -> _Starting:
        config = servers.prometheus_config(
            scrape_target=self.collector.prometheus_exporter,
            alertmanager=self.alertmanager,
            rule_files=[str(self.repo.rules)],
            interval=self.interval,
        )
        process = servers.start_prometheus(binary, self.prometheus, config, self.directory)
        url = f"http://{self.prometheus}"
        return _Starting(
            process,
            lambda: servers.prometheus_ready(self.prometheus),
            url + "/-/ready",
            url,
            "tokentrail's alert rules, alerting to Alertmanager",
        )

    def _start_jaeger(self, binary: str) -> _Starting:
        process = servers.start_jaeger(
            binary, self.jaeger, self.directory, ui_assets=self.jaeger_ui
        )
        return _Starting(
            process,
            lambda: servers.jaeger_ready(self.jaeger),
            self.jaeger.query_url + "/api/services",
            self.jaeger.query_url,
            "" if self.jaeger_ui else JAEGER_WITHOUT_UI,
        )

    def _start_collector(self, binary: str) -> _Starting:
        # the privacy switches of collector/otelcol.yaml follow the user's environment
        privacy = {
            key: os.environ[key]
            for key in ("TOKENTRAIL_COLLECTOR_CONTENT", "TOKENTRAIL_COLLECTOR_USER_ID")
            if key in os.environ
        }
        process = servers.start_collector(
            binary,
            self.collector,
            [self.repo.otelcol_config],
            self.directory / "collector.log",
            env={"JAEGER_OTLP_ENDPOINT": self.jaeger.otlp_grpc, **privacy},
        )
        return _Starting(
            process,
            lambda: servers.collector_ready(self.collector),
            self.collector.health_url,
            self.collector.otlp_http_url,
            f"OTLP/HTTP; OTLP/gRPC on {self.collector.otlp_grpc}",
        )

    # -- while it runs, and down -----------------------------------------------------------------

    def exited(self) -> Process | None:
        """The first server that has exited, if any."""
        return next((p for p in self._processes if p.exit_code() is not None), None)

    def stop(self) -> None:
        """Stop what this object started, last started first."""
        while self._processes:
            self._processes.pop().stop()


def stop_all(directory: Path) -> list[Service]:
    """Stop the stack recorded in ``directory``: the foreground ``up`` first (it stops its
    servers itself), then any recorded server still running. Returns the services stopped."""
    state = State.load(directory)
    if state is None:
        return []
    running = state.running()
    if state.supervisor is not None:
        stop_recorded(state.supervisor, state.supervisor_started, timeout=30, group=False)
    for service in reversed(state.services):
        stop_recorded(service.pid, service.started)
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE_FILE).unlink()
    return running


@contextlib.contextmanager
def recorded(state: State, directory: Path, *, supervised: bool) -> Iterator[State]:
    """Save ``state`` (with this process as the supervisor when ``supervised``) for the
    duration; remove it afterwards if this process supervises the stack."""
    if supervised:
        state.supervisor = os.getpid()
        state.supervisor_started = start_time(os.getpid())
    state.save(directory)
    try:
        yield state
    finally:
        if supervised:
            with contextlib.suppress(FileNotFoundError):
                (directory / STATE_FILE).unlink()
