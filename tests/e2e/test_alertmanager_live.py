"""dashboards/alertmanager/alertmanager.yml in a real Alertmanager: a critical alert mutes its
own warning twin, and only that one."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.contract import promql
from tests.processes import free_port, get_json, require_binary, running, wait_until
from tokentrail.stack.servers import alertmanager_ready, start_alertmanager

pytestmark = pytest.mark.e2e

CONFIG = promql.REPO / "dashboards" / "alertmanager" / "alertmanager.yml"


def alert(severity: str, **labels: str) -> dict:
    return {
        "labels": {"alertname": "TokentrailCacheHitRatioLow", "severity": severity,
                   "job": "app", "gen_ai_provider_name": "anthropic",
                   "gen_ai_request_model": "claude-sonnet-4-5", "tokentrail_team": "core",
                   **labels},
        "annotations": {"summary": "test"},
    }  # fmt: skip


def test_critical_inhibits_only_its_own_warning(tmp_path):
    binary = require_binary(
        "prometheus-alertmanager", "apt-get install prometheus-alertmanager", skip_outside_ci=False
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # the example as shipped; the secret files it names do not exist here, and need not
    config = yaml.safe_load(CONFIG.read_text())
    process = start_alertmanager(binary, f"127.0.0.1:{port}", config, tmp_path)
    with running(process, lambda: alertmanager_ready(f"127.0.0.1:{port}"), timeout=40):
        alerts = [
            alert("critical", tokentrail_feature="rag"),
            alert("warning", tokentrail_feature="rag"),  # its twin: muted
            alert("warning", tokentrail_feature="support"),  # another feature: not muted
        ]
        get_json(url + "/api/v2/alerts", data=json.dumps(alerts).encode())

        def states() -> dict[tuple[str, str], dict] | None:
            got = get_json(url + "/api/v2/alerts")
            out = {(a["labels"]["severity"], a["labels"]["tokentrail_feature"]): a["status"]
                   for a in got}  # fmt: skip
            inhibited = out.get(("warning", "rag"), {}).get("inhibitedBy")
            return out if len(out) == 3 and inhibited else None

        status = wait_until(states, timeout=40, what="the inhibition", process=process)
        assert status[("critical", "rag")]["state"] == "active"
        assert status[("warning", "rag")]["state"] == "suppressed"
        assert status[("warning", "support")]["state"] == "active"
        assert not status[("warning", "support")]["inhibitedBy"]
