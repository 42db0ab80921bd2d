"""The PromQL scanner that the contract and live tests rely on."""

import pytest

from tests.contract import promql


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (job) (rate(a_total{x="1"}[5m]))', {"a_total"}),
        ("sum(rate(a_total[5m])) by (le) / ignoring(le) group_left b", {"a_total", "b"}),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{le!=""}[1m])))', {"h_bucket"}),
        ("a offset 1h30m > bool 1e3 and on (job) b unless c or d", {"a", "b", "c", "d"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)") * on() group_right() b', {"a", "b"}),
        ('{__name__="a", job="x"} + {__name__=~"b.*"}', {"a"}),
        ("max_over_time(tokentrail:x:present[1w] offset 1h)", {"tokentrail:x:present"}),
        ('a{l="}{,"} # a comment with b_total\n+ rate(c[5m:1m])', {"a", "c"}),
        ('sum without (instance) (count_values("v", a)) + topk(3, b) + vector(1)', {"a", "b"}),
        ("-a + Inf * NaN", {"a"}),
    ],
)
def test_metric_names(expr, names):
    assert promql.metric_names(expr) == names


def test_selectors_and_label_names():
    expr = 'sum by (g) (a{x=~"$v", y!="", z=`raw\\n`}) / on (job) b'
    a, b = promql.selectors(expr)
    assert a.metric == "a"
    assert a.matcher("x") == promql.Matcher("x", "=~", "$v")
    assert a.matcher("z").value == "raw\\n"
    assert b == promql.Selector("b", ())
    assert promql.label_names(expr) == {"g", "x", "y", "z", "job"}


def test_grafana_variables():
    expr = 'rate(a{p=~"$provider", m=~"${model:regex}", t=~"[[team]]"}[$__rate_interval])'
    assert promql.variable_refs(expr + " $__range ${__from}") == {"provider", "model", "team"}
    assert promql.to_promql(expr) == 'rate(a{p=~".*", m=~".*", t=~".*"}[1m])'
    assert promql.parse_label_values('label_values(a{b=~"$c", d="e"}, f)') == (
        'a{b=~"$c", d="e"}',
        "f",
    )
    assert promql.parse_label_values("label_values(job)") == (None, "job")


def test_used_metric_names_leave_out_recording_rules():
    used = promql.used_metric_names()
    assert "tokentrail_requests_total" in used
    assert "tokentrail_budget_spent_usd" in used
    assert not any(":" in name for name in used)
