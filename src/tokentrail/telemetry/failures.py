"""Whether a call that raised may still have been billed.

A provider bills a request it received and worked on. An error *response* (HTTP 4xx/5xx) was
not billed, and neither was a request that never left the process (a refused connection, a
budget refusal, an argument the SDK rejected). But a call that failed after its request was
sent and before the whole answer arrived — a read timeout, a dropped connection, the caller
cancelling the task or pressing Ctrl-C — may well have been: the model may have run to the end.
Such a call is reported as ``estimated`` (its input from the prompt, its output unknown, so
0), never as a certain $0.

The SDKs wrap their HTTP library's errors (``openai.APITimeoutError`` from
``httpx.ReadTimeout``, botocore's ``ReadTimeoutError`` ...), so the whole chain of causes is
read, by class name, without importing any SDK. docs/reliability.md has the table.

LiteLLM gives every error an HTTP status, also when no response arrived (408 for a timeout,
500 for a refused or lost connection): its statuses do not say "an error response", the
errors beneath them do (the HTTP library's, or the provider SDK's).
"""

from __future__ import annotations

#: the request never reached the provider (or was refused before it was sent)
_NOT_SENT = frozenset(
    {
        "ConnectError",
        "ConnectTimeout",
        "PoolTimeout",
        "ProxyError",
        "UnsupportedProtocol",
        "LocalProtocolError",
        "WriteTimeout",
        "WriteError",
        "ConnectionRefusedError",
        "gaierror",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "NewConnectionError",
        "ClientConnectorError",
        "TokenTrailError",
    }
)

#: the request was sent and the answer did not (fully) arrive
_IN_FLIGHT = frozenset(
    {
        "ReadTimeout",
        "ReadError",
        "RemoteProtocolError",
        "ReadTimeoutError",
        "IncompleteRead",
        "ProtocolError",
        "ConnectionResetError",
        "BrokenPipeError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ResponseStreamingError",
        "CancelledError",
        "KeyboardInterrupt",
        "SystemExit",
        "TimeoutError",
    }
)


def may_have_been_billed(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) says the request was sent and its answer was
    lost on the way: a read timeout, a dropped connection, a cancellation, an interrupt."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 8:
        if _is_error_response(current) and not _status_of_its_own(current):
            return False
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _NOT_SENT:
            return False
        if names & _IN_FLIGHT:
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


#: modules whose exceptions carry a status code of their own choosing (see the module doc)
_OWN_STATUS_MODULES = ("litellm.",)


def _status_of_its_own(error: BaseException) -> bool:
    return type(error).__module__.startswith(_OWN_STATUS_MODULES)


def _is_error_response(error: BaseException) -> bool:
    """An HTTP error response: ``status_code`` (openai, anthropic, mistralai), ``code``
    (google-genai's ``APIError``), botocore's ``response`` metadata, ``httpx``'s
    ``HTTPStatusError.response``."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return True
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        metadata = response.get("ResponseMetadata")
        status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
        return isinstance(status, int) and status >= 400
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return True
    code = getattr(error, "code", None)
    return type(code) is int and 400 <= code < 600
