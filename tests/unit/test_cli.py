"""The ``tokentrail`` command line: ``price`` and ``doctor``."""

import pytest

from tokentrail.cli import main


def test_price_prints_the_genai_prices_amount(capsys):
    assert (
        main(["price", "gpt-4o", "--input", "1200", "--output", "300", "--cache-read", "1024"]) == 0
    )
    out = capsys.readouterr().out
    assert "openai/gpt-4o: $0.00472" in out
    assert "genai-prices" in out


def test_price_of_an_unknown_model_fails(capsys):
    assert main(["price", "no-such-model-xyz", "--input", "10"]) == 1
    assert "unpriced" in capsys.readouterr().err


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


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "tokentrail" in capsys.readouterr().out
