"""tokentrail against its peers: overhead per call, correctness, memory, start-up.

    python bench/peers/run.py            # everything, ~10 minutes on 2 cores (first run also
                                         # builds the virtualenvs, ~3 minutes)
    python bench/peers/run.py --quick    # ~2 minutes: fewer rounds, 5k memory calls
    python bench/peers/run.py --peers tokentrail,otel-genai --scenarios openai-chat

Every peer runs in its own virtualenv under ``~/.cache/tokentrail-bench/venvs/<venv>``, built
from ``requirements/<venv>.txt`` (a complete pinned closure, the same SDK and OpenTelemetry
versions everywhere) and rebuilt when that file changes; tokentrail is installed editable from
this checkout. Each measurement is one ``worker.py`` process inside that virtualenv (see its
docstring for the method). Writes ``bench/results/peers-<time>.json`` and the "Peers" section
of ``bench/README.md``. Needs only the standard library (Python >= 3.10) and PyPI access for
the first build of each virtualenv.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REQUIREMENTS = HERE / "requirements"
README = REPO / "bench" / "README.md"
RESULTS = REPO / "bench" / "results"
CACHE = Path(os.environ.get("TOKENTRAIL_BENCH_CACHE", Path.home() / ".cache" / "tokentrail-bench"))
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"

#: peer -> (virtualenv, column title)
PEERS = {
    "tokentrail": ("tokentrail", "tokentrail"),
    "floor": ("tokentrail", "floor"),
    "openllmetry": ("openllmetry", "OpenLLMetry 0.62.4"),
    "openlit": ("openlit", "OpenLIT 1.45.0"),
    "otel-genai": ("otel-genai", "official OTel GenAI 1.3b0 / botocore 0.66b1"),
    "openinference": ("openinference", "OpenInference"),
    "anthropic-sdk-tracing": ("bare", "anthropic SDK's own tracing"),
}
#: not instrumentations a user would pick: left out of "best correct peer"
REFERENCES = ("tokentrail", "floor")
#: scenario -> (title, non-streamed counterpart for the per-chunk figure)
SCENARIOS = {
    "openai-chat": ("openai chat", None),
    "openai-chat-stream-caller-usage": (
        "openai chat stream (50 chunks), the caller sets include_usage",
        "openai-chat",
    ),
    "openai-chat-stream-no-usage": (
        "openai chat stream (50 chunks), the caller does not",
        "openai-chat",
    ),
    "openai-responses": ("openai responses", None),
    "openai-async-chat": ("openai async chat", None),
    "anthropic-messages": ("anthropic messages, SDK tracing off", None),
    "anthropic-messages-sdk-tracing": ("anthropic messages, SDK tracing on", None),
    "anthropic-stream": ("anthropic stream (50 deltas), SDK tracing off", "anthropic-messages"),
    "anthropic-stream-sdk-tracing": (
        "anthropic stream (50 deltas), SDK tracing on",
        "anthropic-messages-sdk-tracing",
    ),
    "gemini-generate": ("gemini generate_content", None),
    "gemini-generate-no-thinking": ("gemini generate_content, no thinking tokens", None),
    "gemini-stream": ("gemini generate_content_stream (50 chunks)", "gemini-generate"),
    "bedrock-converse": ("bedrock converse (boto3)", None),
    "litellm-completion": ("litellm completion (openai route)", None),
}
PROVIDERS = ("openai", "anthropic", "gemini", "bedrock", "litellm")
#: peers that apply to some scenarios only (the SDK's own tracing: measured switched on
#: against the same client with it off)
PEER_SCENARIOS = {"anthropic-sdk-tracing": ("anthropic-messages", "anthropic-stream")}
CHUNKS = 50
#: cost within this fraction of genai-prices' counts as right
COST_TOLERANCE = 0.01


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- virtualenvs ------------------------------------------------------------------------------


def _fingerprint(venv: str) -> str:
    digest = hashlib.sha256((REQUIREMENTS / f"{venv}.txt").read_bytes())
    if venv == "tokentrail":  # editable: rebuilt for another checkout or other dependencies
        digest.update(str(REPO).encode())
        digest.update((REPO / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_venv(venv: str, root: Path) -> Path:
    """The virtualenv's python, (re)built when its requirements changed."""
    path = root / venv
    python = path / "bin" / "python"
    marker = path / ".tokentrail-bench"
    fingerprint = _fingerprint(venv)
    if python.exists() and marker.exists() and marker.read_text() == fingerprint:
        return python
    log(f"building virtualenv {path} (from requirements/{venv}.txt)")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "-r", str(REQUIREMENTS / f"{venv}.txt")], check=True)
    if venv == "tokentrail":
        # editable, so the run measures this checkout; constrained to the same pins, and a
        # dependency tokentrail gained since the pins were taken still gets installed
        constraints = REQUIREMENTS / "tokentrail.txt"
        subprocess.run([*pip, "-e", str(REPO), "-c", str(constraints)], check=True)
    marker.write_text(fingerprint)
    return python


def pip_check(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-m", "pip", "check", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


# -- workers ----------------------------------------------------------------------------------


def worker(python: Path, peer: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """One worker process; if it fails, every scenario it was given is an error cell."""
    command = [str(python), str(HERE / "worker.py"), peer, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode == 0 and done.stdout.strip():
            return json.loads(done.stdout.strip().splitlines()[-1])
        lines = done.stderr.strip().splitlines() or ["no output"]
        failure = {"status": "error", "reason": lines[-1][:300], "stderr": done.stderr[-4000:]}
    except subprocess.TimeoutExpired:
        failure = {"status": "error", "reason": f"timed out after {timeout:.0f} s"}
    log(f"worker {' '.join(command[1:])} failed: {failure['reason']}")
    scenarios = [a for a in args if a in SCENARIOS]
    return {**failure, "scenarios": dict.fromkeys(scenarios, failure)}


_ROUNDS = ("bare_us", "instrumented_us", "bare_wall_us", "instrumented_wall_us")


def _append_rounds(
    cell: tuple[dict[str, Any], dict[str, Any]], results: dict[str, Any], bares: dict[str, Any]
) -> None:
    """Add the rounds of one more pass of a peer's worker to those of its first pass (whose
    correctness check and notes stand)."""
    first, first_bares = cell
    for scenario, result in results.get("scenarios", {}).items():
        kept = first["scenarios"].get(scenario, {})
        if kept.get("status") == "ok" and result.get("status") == "ok":
            for key in _ROUNDS:
                kept[key] = kept[key] + result[key]
        kept_bare, bare = first_bares.get(scenario, {}), bares.get(scenario, {})
        if kept_bare.get("status") == "ok" and bare.get("status") == "ok":
            for key in _ROUNDS:
                kept_bare[key] = kept_bare[key] + bare[key]


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarize(result: dict[str, Any], bare: dict[str, Any] | None) -> dict[str, Any]:
    """Medians and spreads of one cell; ``bare`` is the separate bare process, if any."""
    if result.get("status") != "ok":
        return result
    bare_us = result["bare_us"] or (bare or {}).get("bare_us") or []
    instrumented_us = result["instrumented_us"]
    if not bare_us:
        return {**result, "status": "error", "reason": (bare or {}).get("reason", "no bare run")}
    out = {**result, "bare": _spread(bare_us), "instrumented": _spread(instrumented_us)}
    #: the fastest round of each side: what is left when the machine disturbs least
    out["added_of_minima"] = min(instrumented_us) - min(bare_us)
    if result["bare_us"]:  # interleaved: one difference per round
        diffs = [i - b for b, i in zip(bare_us, instrumented_us, strict=True)]
        out["added"] = _spread(diffs)
    else:
        out["added"] = {
            "min": min(instrumented_us) - max(bare_us),
            "median": statistics.median(instrumented_us) - statistics.median(bare_us),
            "max": max(instrumented_us) - min(bare_us),
        }
        out["separate_bare_process"] = True
    return out


# -- correctness ------------------------------------------------------------------------------


#: the floor reports constant values: nothing to check
FLOOR_VERDICT = {"problems": [], "gaps": ["constant values"], "ok": True, "cost_right": False}


def verdict(check: dict[str, Any] | None, reference_cost: float | None) -> dict[str, Any]:
    """What is wrong in one cell's telemetry (``problems``: wrong numbers, double counting,
    no usage at all) and what is merely missing (``gaps``: cost, token metrics)."""
    if not check:
        return {"problems": ["no telemetry checked"], "gaps": [], "ok": False}
    problems, gaps = [], []
    usage_spans = check["usage_spans_per_call"]
    if usage_spans == 0:
        problems.append("no usage")
    elif usage_spans > 1:
        problems.append(f"{usage_spans:g} spans with usage per call")
    reported, expected = check.get("reported", {}), check["expected"]
    for kind in ("input", "output", "cache_read", "cache_creation"):
        if kind in expected and kind in reported and reported[kind] != expected[kind]:
            problems.append(f"{kind} {reported[kind]}≠{expected[kind]}")
    metrics = check.get("metric_tokens", {})
    if usage_spans and not any(metrics.values()):
        gaps.append("no token metric")
    for kind, value in metrics.items():
        if value and round(value) != expected[kind] and value != reported.get(kind):
            problems.append(f"{kind} token metric {value:g}≠{expected[kind]}")
    cost = reported.get("cost")
    if cost is None:
        gaps.append("no cost")
    elif reference_cost and abs(cost - reference_cost) > COST_TOLERANCE * reference_cost:
        problems.append(f"cost {cost:.6g}≠{reference_cost:.6g}")
    return {
        "problems": problems,
        "gaps": gaps,
        "ok": not problems,
        "cost_right": cost is not None and not any(p.startswith("cost") for p in problems),
    }


# -- report -----------------------------------------------------------------------------------


def environment(start_load: tuple[float, ...], pythons: dict[str, Path]) -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_start": start_load,
        "load_average_end": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "pip_check": {venv: pip_check(python) for venv, python in pythons.items()},
    }


def _us(value: float) -> str:
    return f"{value:+.0f}"


def _not_measured(cell: dict[str, Any], note: Any = None) -> str:
    if cell["status"] == "not applicable":
        return "-"
    return f"{cell['status']} {note(cell.get('reason', '?'))}" if note else cell["status"]


def markdown(report: dict[str, Any]) -> str:
    peers = [p for p in PEERS if p in report["peers"]]
    cells = report["cells"]
    notes: dict[str, int] = {}

    def note(text: str) -> str:
        notes.setdefault(text, len(notes) + 1)
        return f"[{notes[text]}]"

    def cell_of(scenario: str, peer: str) -> dict[str, Any]:
        return cells.get(scenario, {}).get(peer, {"status": "not applicable"})

    def bare_of(scenario: str) -> float | None:
        values = [
            c["bare"]["median"]
            for peer, c in cells.get(scenario, {}).items()
            if c.get("status") == "ok" and peer != "anthropic-sdk-tracing"
        ]
        return statistics.median(values) if values else None

    header = "| scenario | bare SDK µs/call | " + " | ".join(PEERS[p][1] for p in peers) + " |"
    rule = "|---|---:|" + "---:|" * len(peers)
    lines = [
        "#### Overhead: µs added per call",
        "",
        "Median over rounds of (instrumented - bare), in brackets the smallest and largest "
        "round; ✗ = its telemetry is wrong (next table).",
        "",
        header,
        rule,
    ]
    for scenario in report["scenarios"]:
        bare = bare_of(scenario)
        row = [SCENARIOS[scenario][0], f"{bare:.0f}" if bare else "-"]
        for peer in peers:
            c = cell_of(scenario, peer)
            if c.get("status") != "ok":
                row.append(_not_measured(c, note))
                continue
            a = c["added"]
            text = f"{_us(a['median'])} ({a['min']:.0f}…{a['max']:.0f})"
            if not c["verdict"]["ok"]:
                text += " ✗"
            if c.get("separate_bare_process"):
                text += " " + note("bare measured in a separate process (no uninstrument)")
            if c.get("note"):
                text += " " + note(c["note"])
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")

    lines += ["", *ratios_markdown(report, cell_of)]

    streams = [s for s in report["scenarios"] if SCENARIOS[s][1] in report["scenarios"]]
    if streams:
        lines += [
            "",
            "#### Streams: µs per chunk",
            "",
            "Bare: the SDK's own time per chunk (call time / 50). Added: (added on the "
            "50-chunk stream - added on the non-streamed call) / 50.",
            "",
            "| stream | bare SDK µs/chunk | " + " | ".join(PEERS[p][1] for p in peers) + " |",
            rule,
        ]
        for scenario in streams:
            counterpart = SCENARIOS[scenario][1]
            bare = bare_of(scenario)
            row = [SCENARIOS[scenario][0], f"{bare / CHUNKS:.1f}" if bare else "-"]
            for peer in peers:
                c, base = cell_of(scenario, peer), cell_of(counterpart, peer)
                if c.get("status") != "ok" or base.get("status") != "ok":
                    row.append(_not_measured(c))
                    continue
                per_chunk = (c["added"]["median"] - base["added"]["median"]) / CHUNKS
                row.append(f"{per_chunk:+.1f}")
            lines.append("| " + " | ".join(row) + " |")

    lines += [
        "",
        "#### Correctness",
        "",
        "Per call, from the spans and metrics of 4 calls: how many spans carry usage (one is "
        "right), input/output tokens against the fake's usage in semconv terms (input includes "
        "cache reads and writes, output includes reasoning/thinking), cache tokens, and "
        "`gen_ai.usage.cost` against genai-prices' price for the same usage. "
        "✓ = what it reports is right; in brackets what it does not report.",
        "",
        "| scenario | " + " | ".join(PEERS[p][1] for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for scenario in report["scenarios"]:
        row = [SCENARIOS[scenario][0]]
        for peer in peers:
            c = cell_of(scenario, peer)
            if c.get("status") != "ok":
                row.append(_not_measured(c))
                continue
            v = c["verdict"]
            text = "✓" if v["ok"] else "✗ " + "; ".join(v["problems"])
            if v["cost_right"]:
                text += ", cost ✓"
            if v["gaps"]:
                text += f" ({', '.join(v['gaps'])})"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")

    memory, imports = report.get("memory", {}), report.get("imports", {})
    if memory or imports:
        mem_scenarios = sorted({s for m in memory.values() for s in m})
        lines += [
            "",
            "#### Memory and start-up",
            "",
            "Memory: growth after a warm-up (2000 calls; --quick: 500) over "
            f"{report['settings']['memory_calls']:,} calls (span exporter emptied every 1000 "
            "calls), RSS in KB and live objects (`gc.get_objects()`) per 1000 calls. Start-up: "
            "importing the peer and instrumenting all five SDKs in a fresh interpreter, "
            "after the SDKs are imported (median ms).",
            "",
            "| | "
            + " | ".join(f"{SCENARIOS[s][0]}: KB / objects per 1k calls" for s in mem_scenarios)
            + " | import + instrument() ms |",
            "|---|" + "---:|" * (len(mem_scenarios) + 1),
        ]
        for peer in ["bare", *peers]:
            if peer in ("anthropic-sdk-tracing", "floor"):
                continue
            row = ["bare SDK" if peer == "bare" else PEERS[peer][1]]
            for s in mem_scenarios:
                m = memory.get(peer, {}).get(s, {})
                if m.get("status") == "ok":
                    kb, objects = m["rss_kb_per_1k_calls"], m["objects_per_1k_calls"]
                    row.append(f"{kb:+.1f} / {objects:+.0f}")
                else:
                    row.append("n/a " + note(m.get("reason", "not run")) if m else "-")
            i = imports.get(peer, {})
            if i.get("status") == "ok" and peer == "bare":
                row.append(f"0 (the five SDKs: {i['import_sdks_ms']:.0f})")
            elif i.get("status") == "ok":
                row.append(f"{i['import_and_instrument_ms']:.0f}")
            else:
                row.append("n/a " + note(i.get("reason", "not run")) if i else "-")
            lines.append("| " + " | ".join(row) + " |")

    if notes:
        lines += ["", *(f"[{n}] {text}  " for text, n in notes.items())]
    return "\n".join(lines)


#: the goals: tokentrail's overhead against the best correct peer's, and against the floor's
PEER_TARGET, FLOOR_TARGET = 0.8, 1.2


def best_correct_peer(report: dict[str, Any], scenario: str) -> tuple[str, dict] | None:
    """The peer (not tokentrail, not the floor) whose telemetry is right and whose median
    overhead is the smallest."""
    found = [
        (peer, cell)
        for peer, cell in report["cells"].get(scenario, {}).items()
        if peer not in REFERENCES and cell.get("status") == "ok" and cell["verdict"]["ok"]
    ]
    return min(found, key=lambda pc: pc[1]["added"]["median"]) if found else None


def ratios(report: dict[str, Any], scenario: str) -> dict[str, Any]:
    """tokentrail's overhead over the best correct peer's and over the floor's, at the
    medians and at the fastest rounds (None where a side is missing or not above zero)."""
    cells = report["cells"].get(scenario, {})

    def ratio(ours: dict, theirs: dict, key: str) -> float | None:
        a = ours["added"]["median"] if key == "median" else ours.get("added_of_minima")
        b = theirs["added"]["median"] if key == "median" else theirs.get("added_of_minima")
        return a / b if a is not None and b is not None and b > 0 else None

    ours = cells.get("tokentrail", {})
    if ours.get("status") != "ok":
        return {}
    out: dict[str, Any] = {}
    best = best_correct_peer(report, scenario)
    if best is not None:
        out["peer"] = best[0]
        out["peer_median"] = ratio(ours, best[1], "median")
        out["peer_minima"] = ratio(ours, best[1], "minima")
    floor = cells.get("floor", {})
    if floor.get("status") == "ok":
        out["floor_median"] = ratio(ours, floor, "median")
        out["floor_minima"] = ratio(ours, floor, "minima")
    return out


def _ratio(report: dict[str, Any], scenario: str, peer: str, key: str) -> float | None:
    cells = report["cells"].get(scenario, {})
    ours, theirs = cells.get("tokentrail", {}), cells.get(peer, {})
    if ours.get("status") != "ok" or theirs.get("status") != "ok":
        return None
    a = ours["added"]["median"] if key == "median" else ours.get("added_of_minima")
    b = theirs["added"]["median"] if key == "median" else theirs.get("added_of_minima")
    return a / b if a is not None and b is not None and b > 0 else None


def stability_markdown(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """tokentrail's ratios to the best correct peer (the first run's, in both runs) and to
    the floor, at the medians, in two runs, and how far apart they are (the issue's
    stability goal: within 10 %)."""
    lines = [
        "| scenario | peer | tokentrail / peer: run 1, run 2, apart | tokentrail / floor: "
        "run 1, run 2, apart |",
        "|---|---|---|---|",
    ]

    def pair(peer: str) -> str:
        a, b = (_ratio(run, scenario, peer, "median") for run in (first, second))
        if a is None or b is None:
            return "-"
        apart = abs(a - b) / min(a, b)
        return f"{a:.2f}, {b:.2f}, {apart:.0%} {'✓' if apart <= 0.10 else '✗'}"

    for scenario in SCENARIOS:
        if scenario not in first["cells"] or scenario not in second["cells"]:
            continue
        best = best_correct_peer(first, scenario)
        peer = best[0] if best is not None else None
        shown = PEERS[peer][1] if peer in PEERS else "none correct"
        lines.append(
            f"| {SCENARIOS[scenario][0]} | {shown} | {pair(peer) if peer else '-'} "
            f"| {pair('floor')} |"
        )
    return lines


def ratios_markdown(report: dict[str, Any], cell_of: Any) -> list[str]:
    def shown(value: float | None, target: float) -> str:
        if value is None:
            return "-"
        return f"{value:.2f}" + (" ✓" if value <= target else " ✗")

    lines = [
        "#### tokentrail against the best correct peer and the floor",
        "",
        "Overhead ratios, at the medians of the rounds and (in brackets) at the fastest round "
        "of each side; the goals: at most 0.8 of the best correct peer's, 1.2 of the floor's.",
        "",
        "| scenario | tokentrail µs | best correct peer µs | tokentrail / peer | floor µs "
        "| tokentrail / floor |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for scenario in report["scenarios"]:
        found = ratios(report, scenario)
        ours, floor = cell_of(scenario, "tokentrail"), cell_of(scenario, "floor")
        if ours.get("status") != "ok":
            continue
        peer = found.get("peer")
        peer_cell = cell_of(scenario, peer) if peer else None
        row = [
            SCENARIOS[scenario][0],
            f"{ours['added']['median']:+.0f} ({ours['added_of_minima']:+.0f})",
            f"{PEERS[peer][1]}: {peer_cell['added']['median']:+.0f} "
            f"({peer_cell['added_of_minima']:+.0f})"
            if peer_cell
            else "none correct",
            f"{shown(found.get('peer_median'), PEER_TARGET)} "
            f"({shown(found.get('peer_minima'), PEER_TARGET)})"
            if peer_cell
            else "-",
            f"{floor['added']['median']:+.0f} ({floor['added_of_minima']:+.0f})"
            if floor.get("status") == "ok"
            else "-",
            f"{shown(found.get('floor_median'), FLOOR_TARGET)} "
            f"({shown(found.get('floor_minima'), FLOOR_TARGET)})"
            if floor.get("status") == "ok"
            else "-",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def environment_markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    settings = report["settings"]
    load = "/".join(f"{x:.1f}" for x in env["load_average_start"])
    load_end = "/".join(f"{x:.1f}" for x in env["load_average_end"])
    versions: dict[str, str] = {}
    for cell in (c for row in report["cells"].values() for c in row.values()):
        versions.update(cell.get("versions", {}))
    lines = [
        f"Run of {env['date']}: {env['cpu']}, {env['cores']} cores, load average "
        f"{load} at the start and {load_end} at the end (1/5/15 min); Python {env['python']}, "
        f"{env['platform']}; {settings['rounds']} rounds of ~{settings['round_seconds']} s "
        f"per side in {settings.get('passes', 1)} passes"
        f"{' (--quick)' if settings['quick'] else ''}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
    ]
    conflicts = {venv: text for venv, text in env["pip_check"].items() if "No broken" not in text}
    for venv, text in conflicts.items():
        lines.append(f"`pip check` in the {venv} virtualenv: " + text.replace("\n", "; ") + ".")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    current = README.read_text(encoding="utf-8")
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    else:
        README.write_text(f"{current.rstrip()}\n\n{BEGIN}\n{text}\n{END}\n", encoding="utf-8")


# -- main -------------------------------------------------------------------------------------


def _names(value: str, known: dict[str, Any]) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown: {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~2 minutes: fewer rounds")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 11, quick 5)")
    parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="split each cell's rounds over this many worker runs, alternating with the "
        "other peers' (default 1)",
    )
    parser.add_argument("--round-seconds", type=float, help="per side (default 0.1, quick 0.05)")
    parser.add_argument("--memory-calls", type=int, help="default 50000, quick 5000; 0: skip")
    parser.add_argument("--memory-scenarios", default="openai-responses", help="comma-separated")
    parser.add_argument("--import-runs", type=int, help="default 5, quick 2; 0: skip")
    parser.add_argument(
        "--openlit-pricing",
        default=str(CACHE / "openlit-pricing.json"),
        help="OpenLIT's assets/pricing.json (it fetches it from GitHub at init(); used "
        "when the file exists, else OpenLIT runs without prices, as it does offline)",
    )
    parser.add_argument("--venvs", default=str(CACHE / "venvs"), help="where the venvs live")
    parser.add_argument(
        "--no-readme",
        action="store_true",
        help="leave bench/README.md alone (a run of some peers or scenarios always does)",
    )
    parser.add_argument("--render", metavar="JSON", help="only re-render the tables of a run")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar="JSON",
        help="only compare the ratios of two runs (how stable they are)",
    )
    options = parser.parse_args()
    if options.render:
        report = json.loads(Path(options.render).read_text(encoding="utf-8"))
        return publish(report, readme=not options.no_readme)
    if options.compare:
        first, second = (json.loads(Path(p).read_text(encoding="utf-8")) for p in options.compare)
        print("\n".join(stability_markdown(first, second)))
        return 0
    quick = options.quick
    passes = max(1, options.passes)
    rounds = -(-(options.rounds or (5 if quick else 11)) // passes) * passes  # whole passes
    round_seconds = options.round_seconds or (0.05 if quick else 0.1)
    memory_calls = (
        options.memory_calls if options.memory_calls is not None else (5000 if quick else 50000)
    )
    import_runs = options.import_runs if options.import_runs is not None else (2 if quick else 5)
    peers = _names(options.peers, PEERS)
    scenarios = _names(options.scenarios, SCENARIOS)
    memory_scenarios = _names(options.memory_scenarios, SCENARIOS) if memory_calls else []
    pricing = options.openlit_pricing if Path(options.openlit_pricing).is_file() else None
    start_load = os.getloadavg()
    started = time.monotonic()

    venvs = {PEERS[p][0] for p in peers} | {"tokentrail"}  # tokentrail's has genai-prices
    if memory_calls or import_runs:
        venvs.add("bare")
    pythons = {venv: ensure_venv(venv, Path(options.venvs)) for venv in sorted(venvs)}
    log(f"virtualenvs ready after {time.monotonic() - started:.0f} s")
    reference = worker(pythons["tokentrail"], "tokentrail", "--reference-costs")
    reference_costs = reference.get("reference_costs", {})
    provider_of = {s: s.split("-")[0] for s in SCENARIOS}
    extra = ["--openlit-pricing", pricing] if pricing else []

    def timing_of(rounds: int) -> list[str]:
        return ["--rounds", str(rounds), "--round-seconds", str(round_seconds), *extra]

    # one worker process per (provider, peer, pass), providers in turn, so that the peers'
    # figures for one scenario are taken close together; each peer's rounds are split over
    # passes that alternate with the other peers', so that a change in the machine's load
    # during the run falls on every peer alike
    cells: dict[str, dict[str, Any]] = {}
    per_pass = timing_of(rounds // passes)
    for provider in PROVIDERS:
        group = [s for s in scenarios if provider_of[s] == provider]
        raw: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for n in range(passes):
            order = peers[n % len(peers) :] + peers[: n % len(peers)] if n else peers
            for peer in order:
                mine = [s for s in group if s in PEER_SCENARIOS.get(peer, group)]
                if not mine or (peer in raw and raw[peer][0].get("status") == "error"):
                    continue
                python = pythons[PEERS[peer][0]]
                results = worker(python, peer, *mine, *per_pass)
                bares: dict[str, Any] = {}
                if any(r.get("mode") == "instrumented" for r in results["scenarios"].values()):
                    bares = worker(python, peer, *mine, "--mode", "bare", *per_pass)["scenarios"]
                if peer not in raw:
                    raw[peer] = (results, bares)
                else:
                    _append_rounds(raw[peer], results, bares)
        for peer, (results, bares) in raw.items():
            for scenario in results["scenarios"]:
                cell = summarize(results["scenarios"][scenario], bares.get(scenario))
                cell["versions"] = results.get("versions", {})
                cells.setdefault(scenario, {})[peer] = cell
                if cell.get("status") != "ok":
                    log(f"{scenario:32} {peer:22} {cell.get('status')}: {cell.get('reason')}")
                    continue
                usage = (cell.get("correctness") or {}).get("usage", provider_of[scenario])
                cell["verdict"] = (
                    FLOOR_VERDICT
                    if peer == "floor"
                    else verdict(cell.get("correctness"), reference_costs.get(usage))
                )
                a = cell["added"]
                log(
                    f"{scenario:32} {peer:22} bare {cell['bare']['median']:6.0f} µs  "
                    f"added {a['median']:+6.0f} ({a['min']:+.0f}…{a['max']:+.0f})  "
                    + ("ok" if cell["verdict"]["ok"] else "; ".join(cell["verdict"]["problems"]))
                )

    log(f"overhead and correctness done after {time.monotonic() - started:.0f} s")
    memory: dict[str, dict[str, Any]] = {}
    imports: dict[str, Any] = {}
    for peer in ["bare", *peers] if (memory_calls or import_runs) else []:
        if peer in ("anthropic-sdk-tracing", "floor"):
            continue
        python = pythons[PEERS[peer][0] if peer in PEERS else "bare"]
        if memory_scenarios:
            found = worker(python, peer, *memory_scenarios, "--memory", str(memory_calls), *extra)
            memory[peer] = found["scenarios"]
            for scenario, m in memory[peer].items():
                if m.get("status") != "ok":
                    log(f"memory {scenario} {peer:22} {m.get('status')}: {m.get('reason')}")
                    continue
                log(
                    f"memory {scenario} {peer:22} {m['rss_kb_per_1k_calls']:+7.1f} KB/1k calls "
                    f"{m['objects_per_1k_calls']:+7.0f} objects/1k calls"
                )
        if import_runs:
            imports[peer] = worker(python, peer, "--import-time", str(import_runs), *extra)
            log(f"import {peer:22} {imports[peer].get('import_and_instrument_ms', 0):.0f} ms")

    report = {
        "settings": {
            "quick": quick,
            "rounds": rounds,
            "passes": passes,
            "round_seconds": round_seconds,
            "memory_calls": memory_calls,
            "import_runs": import_runs,
            "openlit_pricing": bool(pricing),
            "command": " ".join(["python bench/peers/run.py", *sys.argv[1:]]),
        },
        "peers": peers,
        "scenarios": scenarios,
        "reference_costs": reference_costs,
        "cells": cells,
        "memory": memory,
        "imports": imports,
        "environment": environment(start_load, pythons),
        "duration_s": time.monotonic() - started,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"peers-{stamp}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    log(f"\nwrote {path.relative_to(REPO)} in {report['duration_s']:.0f} s")
    complete = peers == list(PEERS) and scenarios == list(SCENARIOS)
    return publish(report, readme=complete and not options.no_readme)


def publish(report: dict[str, Any], *, readme: bool) -> int:
    text = environment_markdown(report) + "\n\n" + markdown(report)
    print(text)
    if readme:
        write_readme(text)
        log(f"updated {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
