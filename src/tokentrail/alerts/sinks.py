"""Where alerts go: the log, a webhook (JSON), Slack, PagerDuty, or a function of yours.

A sink's ``send(alert)`` runs on that sink's own delivery thread (``alerts.delivery``), never
on the thread that made the LLM call; it raises ``DeliveryError`` to have the delivery
retried (with backoff, a bounded number of ``attempts``) or any other exception to give up.

HTTP goes through the standard library (``urllib.request``): no new dependency for the three
JSON POSTs the sinks make, and the same proxy settings (``HTTPS_PROXY``/``NO_PROXY``) as
everything else in the process. Webhook URLs and routing keys are secrets: they never appear
in logs (a sink logs as its class name and host).
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..version import __version__
from .models import BUDGET_ACTION, BUDGET_EXCEEDED, BUDGET_WARNING, CRITICAL, Alert

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_USER_AGENT = f"tokentrail/{__version__}"


class DeliveryError(Exception):
    """A delivery failed in a way worth retrying; ``retry_after`` (seconds) if the receiver
    said when."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sink:
    """Base class of alert sinks. Subclass it and implement ``send``."""

    #: deliveries tried per alert (1 = no retry)
    attempts: int = 1
    #: first retry delay in seconds; doubled for each further retry
    backoff: float = 0.5

    def send(self, alert: Alert) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources; called once when tokentrail shuts down."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LogSink(Sink):
    """Logs each alert on the ``tokentrail.alerts`` logger: WARNING for warnings, ERROR for
    critical alerts; the alert's fields are in the record's ``tokentrail_alert`` attribute.
    The default when no sink is configured."""

    def __init__(self, logger: logging.Logger | str = "tokentrail.alerts") -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    def send(self, alert: Alert) -> None:
        level = logging.ERROR if alert.severity == CRITICAL else logging.WARNING
        self.logger.log(level, "%s", alert.message, extra={"tokentrail_alert": alert.to_dict()})


class CallbackSink(Sink):
    """Calls ``fn(alert)`` (on a delivery thread: keep it thread-safe). An exception it
    raises is logged; the alert is not retried unless it raises ``DeliveryError``."""

    def __init__(self, fn: Callable[[Alert], Any], *, attempts: int = 1) -> None:
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {fn!r}")
        self.fn = fn
        self.attempts = attempts

    def send(self, alert: Alert) -> None:
        self.fn(alert)

    def __repr__(self) -> str:
        return f"CallbackSink({getattr(self.fn, '__qualname__', self.fn)!r})"


class HttpSink(Sink):
    """POSTs a JSON body; 2xx is delivered, 408/429/5xx and network errors are retried,
    other statuses are given up (the body cannot become acceptable by retrying)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        trace_url: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{type(self).__name__}: expected an http(s) URL")
        self.url = url
        self.host = parts.hostname or "?"
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            **(headers or {}),
        }
        #: link to the trace of the call behind an alert, e.g. ``https://jaeger/trace/{trace_id}``
        self.trace_url = trace_url

    def body(self, alert: Alert) -> dict[str, Any]:
        return alert.to_dict()

    def send(self, alert: Alert) -> None:
        data = json.dumps(self.body(alert)).encode()
        request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (408, 429) or exc.code >= 500:
                raise DeliveryError(
                    f"HTTP {exc.code}", retry_after=_retry_after(exc.headers)
                ) from None
            raise RuntimeError(f"{self!r} answered HTTP {exc.code}; not retried") from None
        except OSError as exc:  # URLError, timeouts, connection errors
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{type(reason).__name__}: {reason}") from None

    def trace_link(self, alert: Alert) -> str | None:
        if self.trace_url and alert.trace_id:
            return self.trace_url.format(trace_id=alert.trace_id)
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r})"


class WebhookSink(HttpSink):
    """POSTs ``Alert.to_dict()`` as JSON to ``url`` (plus ``trace_url`` when configured)."""

    def body(self, alert: Alert) -> dict[str, Any]:
        body = alert.to_dict()
        link = self.trace_link(alert)
        if link:
            body["trace_url"] = link
        return body


class SlackSink(HttpSink):
    """Posts to a Slack incoming webhook: a headline, the figures, the attribution and a
    link to the trace when ``trace_url`` (e.g. ``"https://jaeger/trace/{trace_id}"``) is set."""

    def __init__(self, webhook_url: str, **kwargs: Any) -> None:
        super().__init__(webhook_url, **kwargs)

    def body(self, alert: Alert) -> dict[str, Any]:
        icon = {
            BUDGET_EXCEEDED: ":rotating_light:",
            BUDGET_WARNING: ":warning:",
            BUDGET_ACTION: ":arrow_down:",
        }.get(alert.kind, ":moneybag:")
        title = {
            BUDGET_EXCEEDED: f"Budget exhausted: {alert.budget}",
            BUDGET_WARNING: f"Budget warning: {alert.budget}",
            BUDGET_ACTION: f"Budget acting: {alert.budget} ({alert.action})",
        }.get(alert.kind, "Expensive LLM call")
        d = alert.to_dict()
        fields = [
            f"*Spent*\n${d['spent_usd']}",
            f"*{'Threshold' if alert.kind == 'request_cost' else 'Limit'}*\n${d['limit_usd']}",
        ]
        if alert.window:
            fields.append(f"*Window*\n{alert.window} from {d['window_start']}")
        scope = {**alert.key, **alert.attribution}
        if scope:
            fields.append("*Attribution*\n" + ", ".join(f"{k}={v}" for k, v in scope.items()))
        if alert.model:
            fields.append(f"*Model*\n{alert.model}")
        context = f"tokentrail · {alert.severity} · {d['timestamp']}"
        link = self.trace_link(alert)
        if link:
            context = f"<{link}|View trace> · {context}"
        return {
            "text": f"{icon} {alert.message}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": f"{icon} {title}"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": alert.message}},
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": text} for text in fields[:10]],
                },
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }


class PagerDutySink(HttpSink):
    """Triggers a PagerDuty event (Events API v2) for each alert. ``dedup_key`` is one per
    budget (and key), kind and window, so repeated deliveries join the same incident;
    ``severity`` is ``warning`` or ``critical`` as the alert's."""

    def __init__(
        self,
        routing_key: str,
        *,
        url: str = PAGERDUTY_EVENTS_URL,
        source: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(routing_key, str) or not routing_key.strip():
            raise ValueError("PagerDutySink: routing_key is required")
        super().__init__(url, **kwargs)
        self.routing_key = routing_key.strip()
        self.source = source or socket.gethostname()

    def body(self, alert: Alert) -> dict[str, Any]:
        d = alert.to_dict()
        payload: dict[str, Any] = {
            "summary": alert.message[:1024],
            "source": self.source,
            "severity": alert.severity,
            "timestamp": d["timestamp"],
            "component": alert.budget or alert.model or "llm",
            "class": alert.kind,
            "custom_details": d,
        }
        if alert.attribution.get("team"):
            payload["group"] = alert.attribution["team"]
        event: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "client": "tokentrail",
            "payload": payload,
        }
        link = self.trace_link(alert)
        if link:
            event["links"] = [{"href": link, "text": "Trace of the call"}]
        return event


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
