"""The shipped Collector configs (collector/otelcol.yaml under each privacy setting, and each
example overlaid on it) validate with the built collector, and agree with the build manifest.

The checks against the manifest and the privacy stage run in Python, without a binary. The
ones that run the binary find it at $TOKENTRAIL_OTELCOL or collector/_build/otelcol-tokentrail
(built by collector/build.sh); without it they fail under CI (env CI set) and skip elsewhere.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

COLLECTOR = Path(__file__).resolve().parents[2] / "collector"
MANIFEST = yaml.safe_load((COLLECTOR / "builder-config.yaml").read_text())

# The component type that each module of the manifest provides. test_manifest_matches_binary
# checks this table against the built collector's own list.
MODULE_TYPES = {
    "otlpreceiver": "otlp",
    "memorylimiterprocessor": "memory_limiter",
    "batchprocessor": "batch",
    "resourceprocessor": "resource",
    "attributesprocessor": "attributes",
    "transformprocessor": "transform",
    "filterprocessor": "filter",
    "debugexporter": "debug",
    "otlpexporter": "otlp_grpc",
    "otlphttpexporter": "otlp_http",
    "prometheusexporter": "prometheus",
    "prometheusremotewriteexporter": "prometheus_remote_write",
    "fileexporter": "file",
    "healthcheckextension": "health_check",
}
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")


def manifest_types(kind: str) -> set[str]:
    return {MODULE_TYPES[c["gomod"].split()[0].rsplit("/", 1)[1]] for c in MANIFEST.get(kind, [])}


def read_env_file(path: Path) -> dict[str, str]:
    lines = (ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#"))
    return dict(shlex.split(ln)[0].split("=", 1) for ln in lines)


PRIVACY = [
    {"TOKENTRAIL_COLLECTOR_CONTENT": content, "TOKENTRAIL_COLLECTOR_USER_ID": user_id}
    for content in ("drop", "keep")
    for user_id in ("keep", "hash", "delete")
]
PLACEHOLDERS = read_env_file(COLLECTOR / "examples" / "validate.env")
CONFIGS = [
    pytest.param(
        ["otelcol.yaml"],
        env,
        id=f"otelcol.yaml-content={env['TOKENTRAIL_COLLECTOR_CONTENT']}"
        f"-user_id={env['TOKENTRAIL_COLLECTOR_USER_ID']}",
    )
    for env in PRIVACY
] + [
    pytest.param(["otelcol.yaml", f"examples/{p.name}"], PLACEHOLDERS, id=f"examples/{p.name}")
    for p in sorted((COLLECTOR / "examples").glob("*.yaml"))
]


# --- the configuration as the collector resolves it -------------------------------------------

ENV_REF = re.compile(r"\$\{env:(\w+)(?::-([^}]*))?\}")


def expand(value: Any, env: dict[str, str]) -> Any:
    """Substitute ``${env:NAME}`` and ``${env:NAME:-default}`` in every string, as confmap does
    (unset and no default: empty)."""
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    if isinstance(value, str):
        return ENV_REF.sub(lambda m: env.get(m[1], m[2] or ""), value)
    return value


def merge(base: Any, overlay: Any) -> Any:
    """Merge like repeated ``--config``: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in overlay.items()}}
    return overlay


def resolved(files: list[str], env: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in files:
        config = merge(config, yaml.safe_load((COLLECTOR / name).read_text()))
    return expand(config, env)


# --- the binary --------------------------------------------------------------------------------


def otelcol() -> str:
    path = os.environ.get("TOKENTRAIL_OTELCOL") or COLLECTOR / "_build" / "otelcol-tokentrail"
    if shutil.which(str(path)):
        return str(path)
    message = f"no collector at {path}: build it with collector/build.sh"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def validate(files: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [otelcol(), "validate"]
    for name in files:
        argv += ["--config", str(COLLECTOR / name)]
    return subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
    )


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("files", "env"), CONFIGS)
def test_validates_with_the_built_collector(files: list[str], env: dict[str, str]) -> None:
    result = validate(files, env)
    assert result.returncode == 0, result.stderr


def test_an_unknown_privacy_setting_is_refused() -> None:
    result = validate(["otelcol.yaml"], {"TOKENTRAIL_COLLECTOR_USER_ID": "hashed"})
    assert result.returncode != 0
    assert 'references processor "attributes/user_id_hashed"' in result.stderr


@pytest.mark.parametrize(("files", "env"), CONFIGS)
def test_pipelines_use_defined_components_built_in(files: list[str], env: dict[str, str]) -> None:
    config = resolved(files, env)
    service = config["service"]
    used = {kind: set() for kind in KINDS}
    used["extensions"].update(service.get("extensions", []))
    for pipeline in service["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            used[kind].update(pipeline.get(kind, []))
    for kind, ids in used.items():
        defined = config.get(kind) or {}
        assert ids <= defined.keys(), f"{kind} used but not defined: {ids - defined.keys()}"
        types = {i.split("/", 1)[0] for i in ids}
        assert types <= manifest_types(kind), f"{kind} not in the build: {types}"


def test_manifest_is_one_release() -> None:
    release = f"v{MANIFEST['dist']['version']}"
    components = [c["gomod"] for kind in KINDS for c in MANIFEST.get(kind, [])]
    assert {gomod.split()[1] for gomod in components} == {release}
    assert len({c["gomod"].split()[1] for c in MANIFEST["providers"]}) == 1
    builder = re.findall(r"^BUILDER_VERSION=(\S+)", (COLLECTOR / "build.sh").read_text(), re.M)
    assert builder == [release]


def test_manifest_matches_binary() -> None:
    listed = yaml.safe_load(
        subprocess.run(
            [otelcol(), "components"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
    for kind in KINDS:
        assert {c["name"] for c in listed[kind] or []} == manifest_types(kind), kind


CONTENT = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents",
    "gen_ai.memory.query.text",
    "gen_ai.memory.records",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.12.role",
    "gen_ai.completion.0.content",
]
NOT_CONTENT = [
    "gen_ai.prompt.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.cost",
    "gen_ai.response.finish_reasons",
    "gen_ai.tool.call.id",
    "gen_ai.tool.name",
    "gen_ai.input.messages.count",
    "llm.gen_ai.input.messages",
]


def test_content_pattern_drops_content_and_nothing_else() -> None:
    statements = yaml.safe_load((COLLECTOR / "otelcol.yaml").read_text())["processors"][
        "transform/content_drop"
    ]["trace_statements"]
    ottl = re.compile(r'^delete_matching_keys\((span|spanevent)\.attributes, "([^"]+)"\)$')
    patterns = dict(m.groups() for s in statements if (m := ottl.match(s)))
    assert patterns.keys() == {"span", "spanevent"}
    assert patterns["span"] == patterns["spanevent"], "spans and span events: the same keys"
    pattern = re.compile(patterns["span"].replace("\\\\", "\\"))  # an OTTL string literal
    assert [key for key in CONTENT if not pattern.search(key)] == []
    assert [key for key in NOT_CONTENT if pattern.search(key)] == []


# The modules of the upstream `otelcol-contrib` distribution (opentelemetry-collector-releases,
# distributions/otelcol-contrib/manifest.yaml) that this build may use; the distribution has
# them all. deploy/compose runs that distribution's image with collector/otelcol.yaml, so a
# module outside this list would break the Compose stack: check the upstream manifest before
# adding it here.
CONTRIB_DISTRIBUTION = {
    "go.opentelemetry.io/collector/receiver/otlpreceiver",
    "go.opentelemetry.io/collector/processor/batchprocessor",
    "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
    "go.opentelemetry.io/collector/exporter/debugexporter",
    "go.opentelemetry.io/collector/exporter/otlpexporter",
    "go.opentelemetry.io/collector/exporter/otlphttpexporter",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/attributesprocessor",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor",
    "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter",
    "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter",
    "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter",
    "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension",
}
CORE = "go.opentelemetry.io/collector/"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib/"


def test_every_component_is_a_core_or_contrib_module_of_the_contrib_distribution() -> None:
    """So the upstream otelcol-contrib image (deploy/compose) runs the same configs."""
    modules = {c["gomod"].split()[0] for kind in KINDS for c in MANIFEST.get(kind, [])}
    assert all(m.startswith((CORE, CONTRIB)) for m in modules), modules
    assert modules <= CONTRIB_DISTRIBUTION, modules - CONTRIB_DISTRIBUTION
