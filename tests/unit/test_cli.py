"""The ``tokentrail`` command line: ``price`` and ``doctor``, and errors as one line."""

import os
import subprocess
import sys

import pytest

from tokentrail.cli import main


def test_price_prints_the_genai_prices_amount(capsys):
    assert (
        main(["price", "gpt-4o", "--input", "1200", "--output", "300", "--cache-read", "1024"]) == 0
    )
    out = capsys.readouterr().out
    assert "openai/gpt-4o: $0.004720000" in out
    assert "genai-prices" in out


@pytest.mark.parametrize(
    ("model", "provider"),
    [("claude-sonnet-4-5", "anthropic"), ("gemini-2.5-flash", "gcp.gemini"), ("gpt-4o", "openai")],
)
def test_price_finds_the_provider_from_the_model(capsys, model, provider):
    assert main(["price", model, "--input", "1000", "--output", "10"]) == 0
    assert capsys.readouterr().out.startswith(f"{provider}/{model}: $")


def test_price_amounts_have_one_precision(capsys):
    main(["price", "text-embedding-3-small", "--input", "10"])
    main(["price", "gpt-4o", "--input", "1000000", "--output", "1000000"])
    amounts = [line.split("$")[1].split()[0] for line in capsys.readouterr().out.splitlines()]
    assert amounts == ["0.000000200", "12.500000000"]


def test_price_of_an_unknown_model_fails(capsys):
    assert main(["price", "no-such-model-xyz", "--input", "10"]) == 1
    err = capsys.readouterr().err
    assert "no-such-model-xyz" in err
    assert len(err.strip().splitlines()) == 1


def test_price_with_an_unknown_provider_fails(capsys):
    assert main(["price", "gpt-4o", "--provider", "nobody", "--input", "10"]) == 1
    assert "unpriced" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["price", "gpt-4o", "--input", "-5"], "--input"),
        (["price", "gpt-4o", "--input", "lots"], "--input"),
        (["price", "gpt-4o", "--input", "10", "--cache-read", "20"], "--cache-read"),
        (["price", "gpt-4o", "--output", "10", "--reasoning", "20"], "--reasoning"),
        (["price"], "model"),
        (["demo", "--rounds", "0"], "--rounds"),
        (["demo", "--metrics-port", "70000"], "--metrics-port"),
        (["demo", "--latency", "fast"], "--latency"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_wrong_arguments_are_one_line_and_status_2(capsys, argv, needle):
    assert _status(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def _status(argv):
    """The exit status of ``tokentrail ARGV``: argparse exits, commands return it."""
    try:
        return main(argv)
    except SystemExit as exited:
        return exited.code


def test_a_port_in_use_is_one_line_and_status_1(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tokentrail.cli", "demo", "--rounds", "1", "--quiet",
             "--metrics-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    err = result.stderr.strip()
    assert err.splitlines() == [err]
    assert f"--metrics-port {port}" in err


def test_doctor_reports_the_installed_sdks(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "openai" in out
    assert "no problems found" in out


def test_doctor_fails_on_a_bad_prices_file(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text("prices:\n  - model: x\n    input_mtok: cheap\n    output_mtok: 1\n")
    monkeypatch.setenv("TOKENTRAIL_PRICES_FILE", str(bad))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "input_mtok" in out
    assert str(bad) in out


def test_doctor_reads_the_features_file(capsys, monkeypatch, tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text("features:\n  /api/*: api\n  /users/*: users\n")
    monkeypatch.setenv("TOKENTRAIL_FEATURES_FILE", str(path))
    assert main(["doctor"]) == 0
    assert "2 route → feature pattern(s) from TOKENTRAIL_FEATURES_FILE" in capsys.readouterr().out
    path.write_text("features:\n  /api/*: [api]\n")
    assert main(["doctor"]) == 1
    assert f"{path}: features['/api/*']: the feature must be" in capsys.readouterr().out


def test_a_bad_prices_file_is_one_line_for_price(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tokentrail.cli", "price", "gpt-4o", "--input", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TOKENTRAIL_PRICES_FILE": str(tmp_path / "missing.yaml")},
    )
    assert result.returncode == 1
    err = result.stderr.strip()
    assert "missing.yaml" in err
    assert len(err.splitlines()) == 1


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "tokentrail" in capsys.readouterr().out
