"""The package's import graph keeps the layers of docs/architecture.md: each part of tokentrail
imports only the parts below it (imports inside functions count too), and no module imports
itself back through others."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tokentrail

ROOT = Path(tokentrail.__file__).parent

#: lowest first; a part may import the parts of lower layers (and its own modules)
LAYERS = [
    {"version", "exceptions", "_guard", "names", "usage"},
    {"config", "_background"},
    {"pricing", "attribution", "web"},
    {"telemetry"},
    {"alerts"},
    {"budgets"},
    {"runtime"},
    {"instrumentation"},
    {"__init__"},
    {"fakes"},
    {"testing"},
    {"report"},
    {"stack"},  # the local stack's servers: a tool of the command line, not of the library
    {"cli"},
]
LAYER_OF = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = ("tokentrail", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """The tokentrail modules ``module`` imports (a package import names its __init__)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "tokentrail" and name != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_has_a_layer():
    assert {_part(m) for m in MODULES} <= set(LAYER_OF), {_part(m) for m in MODULES} - set(LAYER_OF)


def test_no_part_imports_a_part_above_it():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _part(target) != _part(module) and LAYER_OF[_part(target)] >= LAYER_OF[_part(module)]
    )
    assert upward == []


def test_no_import_cycles_between_modules():
    parents: dict[str, str | None] = {}
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    cycles = []

    def visit(module: str) -> None:
        state[module] = 1
        for target in GRAPH.get(module, ()):
            if target not in GRAPH:
                continue
            if state[target] == 1:
                cycle, at = [target], module
                while at != target:
                    cycle.append(at)
                    at = parents[at]
                cycles.append(" -> ".join(reversed(cycle)))
            elif state[target] == 0:
                parents[target] = module
                visit(target)
        state[module] = 2

    for module in sorted(GRAPH):
        if state[module] == 0:
            parents[module] = None
            visit(module)
    assert cycles == []
