"""deploy/compose: the Compose file is valid for Docker Compose itself, everything it mounts
exists, and every port, service name and path agrees with the configs it mounts, with the
local stack's wiring and with the versions its README documents. Images cannot be pulled
here, so nothing runs: these checks are what stands in for `docker compose up`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from tests.contract.test_collector_configs import MANIFEST, resolved
from tests.contract.tools import run
from tests.processes import require_binary
from tokentrail.stack.servers import prometheus_config, routing_without_integrations

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def mounts(service: str) -> dict[Path, str]:
    """The service's bind mounts: repository file -> path in the container."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            found[(COMPOSE_DIR / source).resolve()] = target
    return found


def mounted_at(service: str, path: Path) -> str:
    targets = mounts(service)
    assert path in targets, f"{service} does not mount {path.relative_to(REPO)}"
    return targets[path]


def flag(service: str, name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in SERVICES[service]["command"] if a.startswith(name)]
    return value


def published(service: str) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port."""
    found = []
    for spec in SERVICES[service].get("ports", []):
        host, host_port, container_port = spec.split(":")
        found.append((host, int(host_port), int(container_port)))
    return found


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def image_tag(service: str) -> str:
    return SERVICES[service]["image"].rsplit(":", 1)[1]


# --- the file as Docker Compose reads it -------------------------------------------------------


def docker_compose() -> str:
    path = os.environ.get("TOKENTRAIL_DOCKER_COMPOSE") or REPO / "collector/_build/docker-compose"
    return require_binary(path, "build it with collector/install-compose.sh")


def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"otelcol", "jaeger", "prometheus", "alertmanager", "grafana"}
    # what Compose resolves the bind mounts to is what the checks below read
    for name, service in config["services"].items():
        binds = {Path(v["source"]) for v in service.get("volumes", []) if v["type"] == "bind"}
        assert binds == set(mounts(name)), name


def test_docker_compose_config_refuses_a_broken_file(tmp_path):
    """The check above can fail: a wrong key is refused."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    ports:\n", "    portz:\n", 1))
    result = subprocess.run(
        [docker_compose(), "-f", str(broken), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "portz" in result.stderr


# --- mounts, ports and names ------------------------------------------------------------------


def test_every_mounted_file_is_in_the_repository():
    for service in SERVICES:
        for source, target in mounts(service).items():
            assert source.is_file(), f"{service}: {source} does not exist"
            assert source.is_relative_to(REPO), source
            assert PurePosixPath(target).is_absolute(), target


def test_every_port_is_published_on_loopback_only():
    for service in SERVICES:
        for host, _, _ in published(service):
            assert host == "127.0.0.1", service


def test_collector_runs_the_shipped_config_on_its_default_ports():
    config_path = mounted_at("otelcol", REPO / "collector" / "otelcol.yaml")
    assert SERVICES["otelcol"]["command"] == [f"--config={config_path}"]
    config = resolved(["otelcol.yaml"], {})  # the config's own defaults
    listen = {
        port_of(config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]),
        port_of(config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]),
        port_of(config["exporters"]["prometheus"]["endpoint"]),
        port_of(config["extensions"]["health_check"]["endpoint"]),
    }
    assert {(host, container) for _, host, container in published("otelcol")} == {
        (port, port) for port in listen
    }
    # traces go to Jaeger's OTLP gRPC receiver (4317 in the jaeger image's default config)
    assert SERVICES["otelcol"]["environment"]["JAEGER_OTLP_ENDPOINT"] == "jaeger:4317"


def test_collector_image_is_the_release_the_builder_builds():
    assert image_tag("otelcol") == MANIFEST["dist"]["version"]
    assert SERVICES["otelcol"]["image"].startswith("otel/opentelemetry-collector-contrib:")


def test_jaeger_image_is_the_release_the_e2e_tests_build():
    script = (REPO / "collector" / "install-jaeger.sh").read_text()
    (version,) = re.findall(r"^JAEGER_VERSION=v(\S+)", script, re.M)
    assert image_tag("jaeger") == version
    assert (16686, 16686) in {(h, c) for _, h, c in published("jaeger")}


def test_prometheus_is_wired_like_the_local_stack():
    """Scrapes the Collector's exporter, loads the shipped rules, alerts to Alertmanager."""
    config_path = mounted_at("prometheus", COMPOSE_DIR / "prometheus.yml")
    assert flag("prometheus", "--config.file") == config_path
    rules = mounted_at("prometheus", REPO / "dashboards" / "prometheus" / "tokentrail-rules.yml")
    exporter = resolved(["otelcol.yaml"], {})["exporters"]["prometheus"]["endpoint"]
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    assert config == prometheus_config(
        scrape_target=f"otelcol:{port_of(exporter)}",
        alertmanager="alertmanager:9093",  # Alertmanager's default listen port
        rule_files=[rules],
        interval=config["global"]["scrape_interval"],
    )
    assert "--web.listen-address" not in " ".join(SERVICES["alertmanager"]["command"])
    assert (9093, 9093) in {(h, c) for _, h, c in published("alertmanager")}
    assert (9090, 9090) in {(h, c) for _, h, c in published("prometheus")}


def test_alertmanager_routes_like_the_shipped_config_and_notifies_nobody():
    config_path = mounted_at("alertmanager", COMPOSE_DIR / "alertmanager.yml")
    assert flag("alertmanager", "--config.file") == config_path
    shipped = yaml.safe_load((REPO / "dashboards/alertmanager/alertmanager.yml").read_text())
    local = yaml.safe_load((COMPOSE_DIR / "alertmanager.yml").read_text())
    assert local == routing_without_integrations(shipped)


def test_grafana_datasources_point_at_the_services():
    path = mounted_at("grafana", COMPOSE_DIR / "grafana-datasources.yaml")
    assert path.startswith("/etc/grafana/provisioning/datasources/")
    sources = {
        d["type"]: d["url"]
        for d in yaml.safe_load((COMPOSE_DIR / "grafana-datasources.yaml").read_text())[
            "datasources"
        ]
    }
    assert sources == {
        "prometheus": "http://prometheus:9090",
        "jaeger": "http://jaeger:16686",
        "alertmanager": "http://alertmanager:9093",
    }
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    datasource = yaml.safe_load((COMPOSE_DIR / "grafana-datasources.yaml").read_text())
    (prom,) = [d for d in datasource["datasources"] if d["type"] == "prometheus"]
    assert prom["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]


def test_grafana_provisions_both_dashboards_where_the_provider_reads():
    provider_file = REPO / "dashboards/grafana/provisioning/dashboards/tokentrail.yaml"
    assert mounted_at("grafana", provider_file).startswith("/etc/grafana/provisioning/dashboards/")
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    dashboards = sorted((REPO / "dashboards" / "grafana").glob("*.json"))
    assert len(dashboards) == 2
    for dashboard in dashboards:
        target = PurePosixPath(mounted_at("grafana", dashboard))
        assert str(target.parent) == provider["options"]["path"]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home in mounts("grafana").values()


def test_every_host_a_config_names_is_a_service():
    texts = [
        (COMPOSE_DIR / "prometheus.yml").read_text(),
        (COMPOSE_DIR / "grafana-datasources.yaml").read_text(),
        SERVICES["otelcol"]["environment"]["JAEGER_OTLP_ENDPOINT"],
    ]
    hosts = {h for text in texts for h in re.findall(r"(?:http://|^|\[|\s)([a-z]+):\d+", text)}
    assert hosts
    assert hosts <= set(SERVICES), hosts - set(SERVICES)


# --- the README -------------------------------------------------------------------------------


def readme_table() -> dict[str, tuple[str, set[int]]]:
    """service -> (image, ports) from deploy/compose/README.md's table."""
    rows = {}
    for line in (COMPOSE_DIR / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[1].startswith("`"):
            ports = {int(p) for p in re.findall(r"\d+", cells[2])}
            rows[cells[0].strip("`")] = (cells[1].strip("`"), ports)
    return rows


def test_readme_documents_every_image_and_port():
    documented = readme_table()
    assert set(documented) == set(SERVICES)
    for name, (image, ports) in documented.items():
        assert image == SERVICES[name]["image"], name
        assert ports == {host for _, host, _ in published(name)}, name


def test_prometheus_and_alertmanager_accept_their_configs(tmp_path):
    """promtool and amtool (Debian's) check the mounted configs; the rule file at its
    repository path instead of its path in the container."""
    rules_in_container = mounted_at(
        "prometheus", REPO / "dashboards" / "prometheus" / "tokentrail-rules.yml"
    )
    config = (COMPOSE_DIR / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(
        config.replace(rules_in_container, str(REPO / "dashboards/prometheus/tokentrail-rules.yml"))
    )
    out = run("promtool", "check", "config", local)
    assert "SUCCESS: 1 rule files found" in out
    run("amtool", "check-config", COMPOSE_DIR / "alertmanager.yml")
