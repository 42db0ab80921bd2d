"""Alerts: what fires (``Alert``), where it goes (sinks) and how (``delivery``, off the
request path)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import config
from ..exceptions import ConfigurationError
from .models import Alert
from .sinks import CallbackSink, DeliveryError, LogSink, PagerDutySink, Sink, SlackSink, WebhookSink

__all__ = [
    "Alert",
    "CallbackSink",
    "DeliveryError",
    "LogSink",
    "PagerDutySink",
    "Sink",
    "SlackSink",
    "WebhookSink",
    "build_sinks",
]


def build_sinks(
    sinks: Iterable[Sink | Callable[[Alert], Any]] | None,
    environ: Mapping[str, str] | None = None,
) -> list[Sink]:
    """The sinks given (a plain function becomes a ``CallbackSink``); else those configured
    by ``TOKENTRAIL_ALERT_WEBHOOK_URL``, ``TOKENTRAIL_SLACK_WEBHOOK_URL`` and
    ``TOKENTRAIL_PAGERDUTY_ROUTING_KEY`` (links to traces from ``TOKENTRAIL_TRACE_URL``);
    else a ``LogSink``."""
    result: list[Sink] = []
    for sink in sinks or ():
        if isinstance(sink, Sink):
            result.append(sink)
        elif callable(sink):
            result.append(CallbackSink(sink))
        else:
            raise ConfigurationError(
                f"alert_sinks: {sink!r} is not a sink (LogSink, WebhookSink, SlackSink, "
                "PagerDutySink, CallbackSink or a function taking an Alert)"
            )
    if result:
        return result
    trace_url = config.env_str(config.ENV_TRACE_URL, environ)
    try:
        url = config.env_str(config.ENV_ALERT_WEBHOOK_URL, environ)
        if url:
            result.append(WebhookSink(url, trace_url=trace_url))
        url = config.env_str(config.ENV_SLACK_WEBHOOK_URL, environ)
        if url:
            result.append(SlackSink(url, trace_url=trace_url))
        key = config.env_str(config.ENV_PAGERDUTY_ROUTING_KEY, environ)
        if key:
            result.append(PagerDutySink(key, trace_url=trace_url))
    except ValueError as exc:
        raise ConfigurationError(f"alert sink from the environment: {exc}") from None
    return result or [LogSink()]
