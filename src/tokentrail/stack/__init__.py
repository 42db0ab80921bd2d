"""The local stack that shows tokentrail's telemetry without Docker: the Collector built from
``collector/``, Jaeger v2, Debian's Prometheus (tokentrail's alert rules loaded, alerting to
Alertmanager) and Alertmanager, on loopback ports. ``tokentrail stack up|status|down`` drives
it; the end-to-end tests start their servers with the same functions (:mod:`.servers`).

It runs from a clone of the repository, where the configs and the built binaries are
(:mod:`.repository`)."""

from .processes import Process, free_port, free_ports, http_ok, running, wait_until
from .repository import BINARIES, Repository, StackError
from .servers import CollectorEndpoints, JaegerEndpoints
from .stack import Ports, Service, Stack, State, recorded, stop_all

__all__ = [
    "BINARIES",
    "CollectorEndpoints",
    "JaegerEndpoints",
    "Ports",
    "Process",
    "Repository",
    "Service",
    "Stack",
    "StackError",
    "State",
    "free_port",
    "free_ports",
    "http_ok",
    "recorded",
    "running",
    "stop_all",
    "wait_until",
]
