"""The route → feature mapping: its forms (mapping, list of entries, YAML/JSON file through
``features=`` or ``TOKENTRAIL_FEATURES_FILE``), how patterns match (the first match wins), and
the configuration errors, which name the file, the entry and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import tokentrail
from tokentrail import ConfigurationError
from tokentrail.runtime import state
from tokentrail.web.features import FeatureMap, load_features


def feature(source, route):
    features = load_features(source)
    assert isinstance(features, FeatureMap)
    return features.feature(route)


class TestMatching:
    def test_the_first_matching_pattern_wins(self):
        features = {"/api/*": "api", "/api/search/*": "search", "/users/{id}": "users"}
        assert feature(features, "/api/search/{q}") == "api"
        assert feature(dict(reversed(features.items())), "/api/search/{q}") == "search"

    @pytest.mark.parametrize(
        ("pattern", "route", "matches"),
        [
            ("/users/{user_id}/summary", "/users/{user_id}/summary", True),
            ("/users/{user_id}/summary", "/users/{user_id}", False),
            ("/api/*", "/api/search/{query}/page/{n}", True),  # '*' crosses '/'
            ("/api/*", "/api", False),
            ("/v?/items", "/v2/items", True),
            ("/v[12]/items", "/v3/items", False),
            ("users/<int:pk>/", "users/<int:pk>/", True),  # Django's form
            # a regex route (Django re_path) with glob characters in it matches itself
            ("^articles/(?P<year>[0-9]{4})/$", "^articles/(?P<year>[0-9]{4})/$", True),
            ("/Search", "/search", False),  # routes are case-sensitive
        ],
    )
    def test_patterns(self, pattern, route, matches):
        assert (feature({pattern: "f"}, route) == "f") is matches

    def test_a_list_of_entries_keeps_its_order(self):
        entries = [
            {"route": "/api/search/*", "feature": "search"},
            {"route": "/api/*", "feature": "api"},
        ]
        assert feature(entries, "/api/search/{q}") == "search"
        assert feature(entries, "/api/users") == "api"
        assert feature(entries, "/health") is None

    def test_the_same_answer_from_the_cache(self):
        features = load_features({"/api/*": "api"})
        assert [features.feature("/api/x") for _ in range(3)] == ["api"] * 3
        assert [features.feature("/other") for _ in range(3)] == [None] * 3

    @pytest.mark.parametrize("source", [None, {}, []])
    def test_no_entries_is_no_mapping(self, source):
        assert load_features(source) is None


class TestFiles:
    def test_yaml_file_through_the_environment(self, tmp_path, monkeypatch, instrumented):
        path = tmp_path / "features.yaml"
        path.write_text("features:\n  /api/search/*: search\n  /users/*: users\n")
        monkeypatch.setenv("TOKENTRAIL_FEATURES_FILE", str(path))
        tokentrail.uninstrument()
        tokentrail.instrument(
            tracer_provider=instrumented.tracer_provider,
            meter_provider=instrumented.meter_provider,
        )
        runtime = state().installed[0]
        assert runtime.features.rules == (("/api/search/*", "search"), ("/users/*", "users"))

    def test_the_argument_wins_over_the_environment(self, tmp_path, monkeypatch, telemetry):
        path = tmp_path / "features.json"
        path.write_text(json.dumps({"features": [{"route": "/a", "feature": "from-file"}]}))
        monkeypatch.setenv("TOKENTRAIL_FEATURES_FILE", str(tmp_path / "missing.yaml"))
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider, features=str(path))
        try:
            assert state().installed[0].features.rules == (("/a", "from-file"),)
        finally:
            tokentrail.uninstrument()

    def test_an_empty_file_is_no_mapping(self, tmp_path):
        path = tmp_path / "features.yaml"
        path.write_text("# nothing yet\n")
        assert load_features(path) is None


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("routes:\n  /a: x\n", "features.yaml: unknown top-level key(s) ['routes']; expected"),
            ("- /a\n", "features.yaml: expected a mapping with the key 'features'"),
            (
                "features:\n  /a: 3\n",
                "features.yaml: features['/a']: the feature must be a non-empty string, got 3",
            ),
            (
                "features:\n  /a: ''\n",
                "features.yaml: features['/a']: the feature must be a non-empty string",
            ),
            (
                "features:\n  - route: /a\n    feature: a\n  - route: /b\n",
                "features.yaml: features[1] (route '/b'): field 'feature' is required",
            ),
            (
                "features:\n  - route: /a\n    name: a\n",
                "features.yaml: features[0]: unknown field 'name'; allowed: route, feature",
            ),
            (
                "features:\n  - feature: a\n",
                "features.yaml: features[0]: field 'route' is required",
            ),
            (
                "features:\n  - route: 7\n    feature: a\n",
                "features.yaml: features[0]: field 'route': a route must be a non-empty string",
            ),
            (
                "features:\n  - route: /a\n    feature: a\n  - route: /a\n    feature: b\n",
                "features.yaml: features[1] (route '/a'): the route is already mapped by entry 0",
            ),
            ("features:\n  - /a\n", "features.yaml: features[0]: must be a mapping with 'route'"),
            ("features: search\n", "features.yaml: features: expected a mapping of route"),
            ("features: [\n", "features.yaml: the features file is not valid YAML/JSON"),
        ],
    )
    def test_a_wrong_file_names_the_file_the_entry_and_the_field(self, tmp_path, text, message):
        path = tmp_path / "features.yaml"
        path.write_text(text)
        with pytest.raises(ConfigurationError) as raised:
            load_features(path)
        assert str(raised.value).startswith(f"{tmp_path}/"), raised.value
        assert message in str(raised.value)

    def test_a_missing_file(self, tmp_path):
        with pytest.raises(ConfigurationError, match="cannot read the features file"):
            load_features(tmp_path / "nope.yaml")

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            (42, "features=: expected a mapping of route patterns to features"),
            ({"/a": None}, "features=['/a']: the feature must be a non-empty string, got None"),
            ({"": "x"}, "features=['']: a route must be a non-empty string"),
        ],
    )
    def test_a_wrong_argument(self, source, message):
        with pytest.raises(ConfigurationError) as raised:
            load_features(source)
        assert message in str(raised.value)

    def test_instrument_raises_and_leaves_nothing_behind(self, telemetry):
        with pytest.raises(ConfigurationError, match="features="):
            tokentrail.instrument(tracer_provider=telemetry.tracer_provider, features={"/a": 1})
        assert state().installed is None
        assert state().runtimes() == []


def test_the_readme_example_means_what_it_says(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [example] = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", readme, re.S)
        if block.lstrip("# \n").startswith("TOKENTRAIL_FEATURES_FILE")
    ]
    path = tmp_path / "features.yaml"
    path.write_text(example)
    features = load_features(path)
    assert features.feature("/users/{user_id}/summary") == "summaries"
    assert features.feature("/api/search/{query}") == "search"
    assert features.feature("/api/users/{id}/orders") == "api"
    assert features.feature("/health") is None
