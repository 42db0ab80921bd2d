"""Top users by cost and the most expensive calls with their trace ids, from span files
(``user.id`` is never a metric label, so only spans know who spent what)."""

from __future__ import annotations

from ..model import Section
from ..sources.spans import SpanTable
from ..timerange import iso

NO_SPANS = "needs --spans: user.id and trace ids are on spans only, never on metrics"


def top_users(spans: SpanTable | None, limit: int) -> Section:
    if spans is None:
        return Section.omit("top_users", NO_SPANS)
    summary = spans.query(
        "SELECT count(*), coalesce(sum(cost_usd), 0), count(user_id), "
        "count(*) FILTER (WHERE cost_status = 'unpriced') FROM calls"
    )[0]
    calls, cost, with_user, unpriced = summary
    if not calls:
        return Section.omit("top_users", "no tokentrail spans in the span files for the range")
    if not with_user:
        return Section.omit("top_users", f"none of the {calls} calls in the spans has a user.id")
    rows = spans.query(
        """
        SELECT user_id, coalesce(sum(cost_usd), 0) AS cost, count(*) AS calls,
               coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
               count(*) FILTER (WHERE cost_status = 'unpriced'),
               arg_max(feature, cost_usd)
        FROM calls WHERE user_id IS NOT NULL
        GROUP BY user_id ORDER BY cost DESC, calls DESC, user_id LIMIT ?
        """,
        [limit],
    )
    users_total = spans.query("SELECT count(DISTINCT user_id) FROM calls")[0][0]
    return Section(
        "top_users",
        {
            "calls": calls,
            "cost_usd": float(cost),
            "calls_with_user": with_user,
            "unpriced_calls": unpriced,
            "users": users_total,
            "top": [
                {
                    "user_id": user,
                    "cost_usd": float(c),
                    "share": float(c) / float(cost) if cost else None,
                    "calls": n,
                    "input_tokens": int(i),
                    "output_tokens": int(o),
                    "unpriced_calls": u,
                    "top_feature": feature,
                }
                for user, c, n, i, o, u, feature in rows
            ],
        },
    )


def top_calls(spans: SpanTable | None, limit: int) -> Section:
    if spans is None:
        return Section.omit("top_calls", NO_SPANS)
    rows = spans.query(
        """
        SELECT trace_id, span_id, start_ns, name, provider, model, feature, team, user_id,
               input_tokens, output_tokens, cost_usd
        FROM calls WHERE cost_usd IS NOT NULL
        ORDER BY cost_usd DESC, start_ns, span_id LIMIT ?
        """,
        [limit],
    )
    if not rows:
        return Section.omit(
            "top_calls", "no priced tokentrail spans in the span files for the range"
        )
    return Section(
        "top_calls",
        {
            "calls": [
                {
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "time": iso(start_ns / 1e9),
                    "name": name,
                    "provider": provider,
                    "model": model,
                    "feature": feature,
                    "team": team,
                    "user_id": user,
                    "input_tokens": i,
                    "output_tokens": o,
                    "cost_usd": cost,
                }
                for (
                    trace_id,
                    span_id,
                    start_ns,
                    name,
                    provider,
                    model,
                    feature,
                    team,
                    user,
                    i,
                    o,
                    cost,
                ) in rows
            ]
        },
    )
