"""``tokentrail stack`` where it cannot start: each problem is one line on stderr and exit
status 1 (2 for a wrong argument), and nothing is left running. The stack running for real is
tested in tests/e2e/test_stack.py."""

from __future__ import annotations

import pytest

from tests.stack_cli import processes_using, run_stack

# Programs that exist everywhere stand in for the servers that are not missing.
PRESENT = {
    "TOKENTRAIL_ALERTMANAGER": "/bin/sh",
    "TOKENTRAIL_PROMETHEUS": "/bin/sh",
    "TOKENTRAIL_JAEGER": "/bin/sh",
    "TOKENTRAIL_OTELCOL": "/bin/sh",
}


@pytest.mark.parametrize(
    ("variable", "name", "how"),
    [
        ("TOKENTRAIL_OTELCOL", "collector", "collector/build.sh"),
        ("TOKENTRAIL_JAEGER", "jaeger", "collector/install-jaeger.sh"),
        ("TOKENTRAIL_PROMETHEUS", "prometheus", "apt-get install prometheus"),
    ],
)
def test_a_missing_binary_is_one_line_and_exit_1(tmp_path, variable, name, how):
    missing = str(tmp_path / "nowhere" / name)
    result = run_stack("up", tmp_path, env={**PRESENT, variable: missing})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tokentrail stack: error: no {name} at {missing}: ")
    assert how in line
    assert result.stdout == ""
    assert processes_using(tmp_path) == []


def test_outside_a_clone_it_says_where_it_runs(tmp_path):
    result = run_stack("up", tmp_path / "stack", "--repo", str(tmp_path))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "is not a clone of tokentrail" in line


def test_a_wrong_port_option_is_a_usage_error(tmp_path):
    result = run_stack("up", tmp_path, "--port", "grafana=3000")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "unknown port name 'grafana'" in line
    assert "prometheus" in line  # the names it knows


def test_two_services_on_one_port_are_refused(tmp_path):
    result = run_stack("up", tmp_path, "--port", "prometheus=4318", env=PRESENT)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "tokentrail stack: error: two services were given the same port"
    ]


def test_status_and_down_with_nothing_running(tmp_path):
    status = run_stack("status", tmp_path)
    assert (status.returncode, status.stdout) == (1, f"no stack is running from {tmp_path}\n")
    down = run_stack("down", tmp_path)
    assert (down.returncode, down.stdout) == (0, f"no stack is running from {tmp_path}\n")
