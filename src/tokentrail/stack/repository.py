"""Where the local stack's pieces are: a clone of the tokentrail repository (the Collector
config, the alert rules and routing, and the binaries that ``collector/build.sh`` and
``collector/install-jaeger.sh`` build into ``collector/_build/``) and Debian's Prometheus and
Alertmanager on ``PATH``. None of these ship in the Python package, so the stack runs from a
clone: the current directory or one above it, the clone tokentrail is installed from
(``pip install -e``), or one named explicitly."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import TokenTrailError


class StackError(TokenTrailError):
    """The local stack cannot start or stop; the message is one line that says what to do."""


#: a directory is a clone when it holds these
_MARKERS = ("collector/otelcol.yaml", "dashboards/prometheus/tokentrail-rules.yml")


@dataclass(frozen=True)
class Repository:
    root: Path

    @property
    def otelcol_config(self) -> Path:
        return self.root / "collector" / "otelcol.yaml"

    @property
    def rules(self) -> Path:
        return self.root / "dashboards" / "prometheus" / "tokentrail-rules.yml"

    @property
    def alertmanager_routing(self) -> Path:
        return self.root / "dashboards" / "alertmanager" / "alertmanager.yml"

    @property
    def build_dir(self) -> Path:
        return self.root / "collector" / "_build"

    @classmethod
    def find(cls, explicit: Path | None = None) -> Repository:
        if explicit is not None:
            if not _is_clone(explicit):
                raise StackError(f"{explicit} is not a clone of tokentrail (no {_MARKERS[0]})")
            return cls(explicit.resolve())
        here = Path.cwd().resolve()
        installed_from = Path(__file__).resolve().parents[3]  # src/tokentrail/stack/ -> root
        for candidate in (here, *here.parents, installed_from):
            if _is_clone(candidate):
                return cls(candidate)
        raise StackError(
            "the local stack runs from a clone of the tokentrail repository (it holds the "
            "Collector config and the binaries collector/build.sh builds): run this inside "
            "the clone, or pass --repo"
        )


def _is_clone(path: Path) -> bool:
    return all((path / marker).is_file() for marker in _MARKERS)


@dataclass(frozen=True)
class Binary:
    """A program the stack runs: where to look, and how to get it when it is missing. The
    variable ``env``, when set, names it instead (a path or a command)."""

    name: str
    env: str
    how_to_get: str
    in_clone: str = ""  # its path in the clone; else the first of ``commands`` on PATH
    commands: tuple[str, ...] = ()

    def find(self, repo_root: Path) -> str:
        """The executable's path; :class:`StackError` naming how to get it when missing."""
        named = os.environ.get(self.env)
        if named:
            wanted = [named]
        elif self.in_clone:
            wanted = [str(repo_root / self.in_clone)]
        else:
            wanted = list(self.commands)
        for candidate in wanted:
            found = shutil.which(candidate)
            if found:
                return found
        raise StackError(f"no {self.name} at {wanted[0]}: {self.how_to_get} (or set {self.env})")


BINARIES = {
    binary.name: binary
    for binary in (
        Binary(
            "collector",
            "TOKENTRAIL_OTELCOL",
            "build it with collector/build.sh, about 3 minutes the first time",
            in_clone="collector/_build/otelcol-tokentrail",
        ),
        Binary(
            "jaeger",
            "TOKENTRAIL_JAEGER",
            "build it with collector/install-jaeger.sh, about 4 minutes the first time",
            in_clone="collector/_build/jaeger",
        ),
        Binary(
            "prometheus",
            "TOKENTRAIL_PROMETHEUS",
            "apt-get install prometheus",
            commands=("prometheus",),
        ),
        Binary(
            "alertmanager",
            "TOKENTRAIL_ALERTMANAGER",
            "apt-get install prometheus-alertmanager",
            commands=("prometheus-alertmanager", "alertmanager"),  # Debian's name, upstream's
        ),
    )
}
