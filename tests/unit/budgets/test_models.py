"""Budget definitions: validation, UTC-aligned and rolling windows, and the budgets file."""

from __future__ import annotations

import calendar
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tokentrail import Budget, ConfigurationError
from tokentrail.budgets.models import ROLLING_BUCKETS, load_budgets, parse_window


def epoch(*args: int) -> float:
    return float(calendar.timegm(datetime(*args, tzinfo=timezone.utc).utctimetuple()))


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


class TestBudget:
    def test_keeps_what_it_was_given_with_exact_amounts(self):
        budget = Budget(
            "core", 50, "day", match={"team": "core"}, action="block", warn_at=(0.9, 0.5)
        )
        assert budget.limit_usd == Decimal(50)
        assert dict(budget.match) == {"team": "core"}
        assert budget.warn_at == (Decimal("0.5"), Decimal("0.9"))
        assert budget.blocking
        assert not Budget("x", "0.10", "hour").blocking

    def test_is_immutable(self):
        budget = Budget("x", 1, "hour")
        with pytest.raises(AttributeError):
            budget.limit_usd = Decimal(2)  # type: ignore[misc]
        with pytest.raises(TypeError):
            budget.match["team"] = "core"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"limit_usd": 0}, "limit_usd must be > 0"),
            ({"limit_usd": -1}, ">= 0"),
            ({"limit_usd": "lots"}, "expected an amount"),
            ({"window": "fortnight"}, "expected hour, day, month or a duration"),
            ({"window": timedelta(seconds=5)}, "at least"),
            ({"action": "deny"}, "action must be one of alert, clamp, downgrade, block"),
            ({"action": "downgrade"}, "action='downgrade' needs downgrade="),
            ({"action": "downgrade", "downgrade": {"gpt-4o": 4}}, "downgrade maps model names"),
            ({"action": "clamp"}, "action='clamp' needs max_output_tokens"),
            ({"action": "clamp", "max_output_tokens": 0}, "a number of tokens >= 1 or 'fit'"),
            ({"action": "clamp", "max_output_tokens": "lots"}, "got 'lots'"),
            ({"downgrade": {"a": "b"}}, "downgrade is for action='downgrade' only"),
            ({"max_output_tokens": 5}, "max_output_tokens is for action='clamp' only"),
            ({"action": "clamp", "max_output_tokens": 5, "at": 0}, "at is a fraction"),
            ({"action": "clamp", "max_output_tokens": 5, "at": 1.5}, "at is a fraction"),
            ({"warn_at": (1.0,)}, "warn_at values are fractions"),
            ({"warn_at": (0,)}, "warn_at values are fractions"),
            ({"per": ""}, "per must be an attribution key"),
            ({"per": "team", "match": {"team": "core"}}, "also fixed by match"),
            ({"match": {"team": {"a": 1}}}, "match['team'] must be a string or a list"),
            ({"match": {"team": []}}, "match['team'] must be a string or a list"),
        ],
    )
    def test_rejects_a_wrong_field_naming_it(self, kwargs, fragment):
        arguments = {"limit_usd": 1, "window": "day", **kwargs}
        with pytest.raises(ConfigurationError, match="Budget 'b'") as info:
            Budget("b", arguments.pop("limit_usd"), arguments.pop("window"), **arguments)
        assert fragment in str(info.value)


class TestCalendarWindows:
    @pytest.mark.parametrize(
        ("unit", "moment", "start", "end"),
        [
            ("hour", (2025, 3, 9, 14, 59, 59), (2025, 3, 9, 14), (2025, 3, 9, 15)),
            ("day", (2025, 3, 9, 23, 59, 59), (2025, 3, 9), (2025, 3, 10)),
            ("month", (2025, 2, 28, 23, 0, 0), (2025, 2, 1), (2025, 3, 1)),
            ("month", (2024, 12, 31, 23, 59, 59), (2024, 12, 1), (2025, 1, 1)),
        ],
    )
    def test_windows_are_aligned_to_utc_calendar_boundaries(self, unit, moment, start, end):
        span = parse_window(unit, "w").span(epoch(*moment))
        assert utc(span.start) == datetime(*start, tzinfo=timezone.utc)
        assert utc(span.end) == datetime(*end, tzinfo=timezone.utc)
        assert span.first == span.last == span.start  # one counter per window
        assert span.expire_at > span.end  # counters outlive the window a little (clock skew)

    def test_the_next_window_starts_at_the_boundary(self):
        window = parse_window("hour", "w")
        before = window.span(epoch(2025, 1, 1, 10, 59, 59))
        after = window.span(epoch(2025, 1, 1, 11))
        assert after.start == before.end
        assert after.claim_id != before.claim_id  # a new window may alert again

    def test_remaining_counts_down_to_the_reset(self):
        window = parse_window("day", "w")
        assert window.remaining(epoch(2025, 1, 1, 18)) == 6 * 3600


class TestRollingWindows:
    def test_sums_the_last_buckets_and_writes_the_newest(self):
        window = parse_window(timedelta(hours=6), "w")
        now = epoch(2025, 1, 1, 12, 3)
        span = window.span(now)
        width = 6 * 3600 / ROLLING_BUCKETS
        assert len(span.buckets) == ROLLING_BUCKETS
        assert span.last == int(now // width)
        # the window covers the last 6 hours, give or take one bucket
        assert now - 6 * 3600 <= span.start <= now - 6 * 3600 + width
        # a bucket is kept until it leaves the window
        assert span.expire_at >= (span.last + ROLLING_BUCKETS) * width

    def test_an_alert_may_fire_again_one_window_length_later(self):
        window = parse_window("90m", "w")
        now = epoch(2025, 1, 1, 12)
        assert window.span(now).claim_expire_at == now + 90 * 60

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("6h", 6 * 3600), ("90m", 5400), ("1d12h", 129600), ("2w", 1209600), ("1.5h", 5400)],
    )
    def test_durations_in_files(self, text, seconds):
        window = parse_window(text, "w")
        assert window.seconds == seconds
        assert window.label == text


class TestBudgetsFile:
    def test_reads_the_yaml_format_of_the_design(self, tmp_path):
        path = tmp_path / "budgets.yaml"
        path.write_text(
            """
budgets:
  - name: team-core-daily
    limit_usd: 50
    window: day
    match: {team: core}
    action: block
    warn_at: [0.8]
  - name: per-user-hourly
    limit_usd: 1
    window: hour
    per: user_id
  - name: rolling
    limit_usd: 5.5
    window: 6h
"""
        )
        core, per_user, rolling = load_budgets(str(path))
        assert (core.name, core.limit_usd, core.window.label, core.action) == (
            "team-core-daily",
            Decimal(50),
            "day",
            "block",
        )
        assert dict(core.match) == {"team": "core"}
        assert per_user.per == "user_id"
        assert per_user.action == "alert"
        assert rolling.window.seconds == 6 * 3600
        assert rolling.limit_usd == Decimal("5.5")

    def test_reads_json(self, tmp_path):
        path = tmp_path / "budgets.json"
        path.write_text(json.dumps({"budgets": [{"name": "a", "limit_usd": 2, "window": "month"}]}))
        (budget,) = load_budgets(path)
        assert budget.window.label == "month"

    @pytest.mark.parametrize(
        ("entry", "fragment"),
        [
            ({"limit_usd": 1, "window": "day"}, "budgets[0]: field 'name' is required"),
            ({"name": "a", "window": "day"}, "(budget 'a'): field 'limit_usd' is required"),
            ({"name": "a", "limit_usd": "x", "window": "day"}, "field 'limit_usd'"),
            ({"name": "a", "limit_usd": 1, "window": "3x"}, "field 'window'"),
            ({"name": "a", "limit_usd": 1, "window": "day", "action": "no"}, "field 'action'"),
            ({"name": "a", "limit_usd": 1, "window": "day", "warn_at": [2]}, "field 'warn_at'"),
            ({"name": "a", "limit_usd": 1, "window": "day", "limit": 3}, "unknown field 'limit'"),
        ],
    )
    def test_a_wrong_entry_names_file_entry_and_field(self, tmp_path, entry, fragment):
        path = tmp_path / "budgets.yaml"
        path.write_text(json.dumps({"budgets": [entry]}))
        with pytest.raises(ConfigurationError) as info:
            load_budgets(str(path))
        message = str(info.value)
        assert message.startswith(f"{path}: budgets[0]")
        assert fragment in message

    def test_names_are_unique(self):
        entry = {"name": "a", "limit_usd": 1, "window": "day"}
        with pytest.raises(ConfigurationError, match="unique"):
            load_budgets({"budgets": [entry, entry]})

    def test_an_unreadable_or_invalid_file_is_a_configuration_error(self, tmp_path):
        with pytest.raises(ConfigurationError, match="cannot read the budgets file"):
            load_budgets(str(tmp_path / "missing.yaml"))
        bad = tmp_path / "bad.yaml"
        bad.write_text("budgets: [name: {")
        with pytest.raises(ConfigurationError, match="not valid YAML"):
            load_budgets(str(bad))


def test_importing_tokentrail_does_not_import_redis():
    """redis is an extra: it is imported when a RedisBudgetStore is created, not before."""
    import subprocess
    import sys

    code = "import sys, tokentrail; print('redis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
