"""Settings from the environment and from files: every bad value is a ``ConfigurationError``
that names what is wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import ConfigurationError, TokenTrailError
from tokentrail.config import env_bool, env_decimal, env_str, read_config_file, to_usd


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "on"])
def test_env_bool_true(raw):
    assert env_bool("X", environ={"X": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_env_bool_false(raw):
    assert env_bool("X", default=True, environ={"X": raw}) is False


def test_env_bool_default_when_unset():
    assert env_bool("X", environ={}) is False
    assert env_bool("X", default=True, environ={}) is True


def test_env_bool_rejects_other_values_naming_the_variable():
    with pytest.raises(ConfigurationError, match="TOKENTRAIL_CAPTURE_CONTENT='maybe'"):
        env_bool("TOKENTRAIL_CAPTURE_CONTENT", environ={"TOKENTRAIL_CAPTURE_CONTENT": "maybe"})


def test_env_str_strips_and_treats_blank_as_unset():
    assert env_str("X", environ={"X": "  /etc/prices.yaml "}) == "/etc/prices.yaml"
    assert env_str("X", environ={"X": "   "}) is None
    assert env_str("X", environ={}) is None


def test_env_decimal():
    assert env_decimal("X", environ={"X": "0.25"}) == Decimal("0.25")
    assert env_decimal("X", environ={}) is None
    with pytest.raises(ConfigurationError, match="X"):
        env_decimal("X", environ={"X": "a lot"})


@pytest.mark.parametrize("value", [1, 0.5, "0.10", Decimal("3")])
def test_to_usd_accepts_amounts(value):
    assert to_usd(value, "limit") == Decimal(str(value))


@pytest.mark.parametrize("value", [-1, "NaN", "Infinity", True, "ten", None])
def test_to_usd_rejects_non_amounts(value):
    with pytest.raises(ConfigurationError, match="limit"):
        to_usd(value, "limit")


def test_configuration_error_is_a_tokentrail_error_and_a_value_error():
    assert issubclass(ConfigurationError, TokenTrailError)
    assert issubclass(ConfigurationError, ValueError)


def test_read_config_file_yaml_and_json(tmp_path):
    yaml_file = tmp_path / "a.yml"
    yaml_file.write_text("prices:\n  - model: x\n")
    json_file = tmp_path / "a.JSON"
    json_file.write_text('{"prices": [{"model": "x"}]}')

    assert read_config_file(yaml_file, "prices") == {"prices": [{"model": "x"}]}
    assert read_config_file(json_file, "prices") == {"prices": [{"model": "x"}]}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.yaml", None, "cannot read the budgets file"),
        ("bad.yaml", "budgets: [a, b", "not valid YAML/JSON"),
        ("bad.json", "{'single': 'quotes'}", "not valid YAML/JSON"),
    ],
)
def test_read_config_file_errors_name_the_file(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)

    with pytest.raises(ConfigurationError, match=reason) as raised:
        read_config_file(path, "budgets")

    assert str(path) in str(raised.value)
