"""``_guard.report``: internal errors are logged once per site (then at DEBUG), counted, and
re-raised in strict mode."""

from __future__ import annotations

import logging

import pytest

from tokentrail import _guard


class Oops(Exception):
    pass


def test_strict_mode_reraises_the_same_exception():
    """The test suite runs strict (``TOKENTRAIL_STRICT=1``)."""
    assert _guard.is_strict()
    error = Oops("bug")

    with pytest.raises(Oops) as raised:
        _guard.report("unit.site", error)

    assert raised.value is error
    _guard.reset()


def test_lenient_logs_once_per_site_then_debug_and_counts(lenient, caplog):
    caplog.set_level(logging.DEBUG, logger="tokentrail")

    for _ in range(3):
        _guard.report("site.a", Oops("first"))
    _guard.report("site.b", Oops("second"))

    assert _guard.error_counts == {"site.a": 3, "site.b": 1}
    levels = [(r.levelno, r.getMessage().split(";")[0]) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "tokentrail internal error in site.a"),
        (logging.DEBUG, "tokentrail internal error in site.a: Oops('first')"),
        (logging.DEBUG, "tokentrail internal error in site.a: Oops('first')"),
        (logging.WARNING, "tokentrail internal error in site.b"),
    ]
    assert caplog.records[0].exc_info[1].args == ("first",)


def test_reset_forgets_sites_and_counts(lenient, caplog):
    _guard.report("site.c", Oops())
    _guard.reset()
    caplog.clear()

    _guard.report("site.c", Oops())

    assert _guard.error_counts == {"site.c": 1}
    assert len(caplog.records) == 1


def test_set_strict_none_goes_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_STRICT", "0")
    _guard.set_strict(None)
    try:
        assert not _guard.is_strict()
        _guard.set_strict(True)
        assert _guard.is_strict()
    finally:
        monkeypatch.setenv("TOKENTRAIL_STRICT", "1")
        _guard.set_strict(None)
    assert _guard.is_strict()
