"""What one call consumed, in one provider-neutral shape.

Conventions (the same as genai-prices and the GenAI semantic conventions):

* ``input_tokens`` **includes** cache reads and cache writes; ``cache_read_tokens``,
  ``cache_write_tokens`` (and its 1-hour part ``cache_write_1h_tokens``) are subsets of it.
* ``output_tokens`` **includes** reasoning/thinking tokens; ``reasoning_tokens`` is a subset.

Each provider's extractor maps its SDK objects into this shape (Anthropic reports input
without cache tokens, Gemini reports thinking tokens outside candidates); nothing downstream
needs to know which provider a ``Usage`` came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_set = object.__setattr__


@dataclass(frozen=True, slots=True, init=False)
class Usage:
    """Token counts of one model request (see the module docstring for the conventions).

    The extractors build one per call with positional arguments (a third cheaper than
    keywords), so the order of the fields is fixed: new fields go at the end."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    #: server-side web searches the request triggered (priced per thousand where known)
    web_search_requests: int = 0
    #: modality breakdown as genai-prices usage keys, e.g. ``(("input_audio_tokens", 40),)``;
    #: only non-text modalities are listed, text is the rest
    details: tuple[tuple[str, int], ...] = ()
    #: True when the counts are an estimate (a stream that ended before its usage arrived)
    estimated: bool = False

    def __new__(
        cls,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        reasoning_tokens: int = 0,
        web_search_requests: int = 0,
        details: tuple[tuple[str, int], ...] = (),
        estimated: bool = False,
    ) -> Usage:
        # built as its mutable twin and then given its class: a frozen dataclass's __init__
        # sets each field with object.__setattr__, three times the cost, once per call
        self = object.__new__(_UsageBuilder)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_read_tokens = cache_read_tokens
        self.cache_write_tokens = cache_write_tokens
        self.cache_write_1h_tokens = cache_write_1h_tokens
        self.reasoning_tokens = reasoning_tokens
        self.web_search_requests = web_search_requests
        self.details = details
        self.estimated = estimated
        _set(self, "__class__", cls)
        return self  # type: ignore[return-value]

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        details = dict(self.details)
        for key, value in other.details:
            details[key] = details.get(key, 0) + value
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            web_search_requests=self.web_search_requests + other.web_search_requests,
            details=tuple(sorted(details.items())),
            estimated=self.estimated or other.estimated,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class _UsageBuilder:
    """``Usage`` with the same slots, without the frozen ``__setattr__``."""

    __slots__ = Usage.__slots__  # type: ignore[misc]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    web_search_requests: int
    details: tuple[tuple[str, int], ...]
    estimated: bool


#: the most tokens (or searches) one request may report: a larger count is not one a provider
#: sends (the largest context windows hold a few million tokens)
MAX_TOKENS = 10**12
#: what a count that cannot be read becomes (a value that is not an int, or is negative or
#: larger than ``MAX_TOKENS``): a negative number so large that any sum it enters stays
#: negative, so that the usage it is part of is unreadable
UNREADABLE = -(10**18)


class UnreadableUsage(ValueError):
    """A usage whose parts exceed their whole for the units a model is priced by (raised by
    pricing; the call is then unpriced)."""


def readable(usage: Usage) -> bool:
    """Whether ``usage`` is one a provider could have reported: every count an ``int`` from 0
    to ``MAX_TOKENS``, and no part larger than its whole (cache reads and writes within the
    input, 1-hour writes within the writes, reasoning within the output). An unreadable usage
    is reported as unpriced, without token counts: never as $0, never as negative tokens."""
    for n in (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
              usage.cache_write_tokens, usage.cache_write_1h_tokens, usage.reasoning_tokens,
              usage.web_search_requests, *(n for _, n in usage.details)):  # fmt: skip
        if n.__class__ is not int or not 0 <= n <= MAX_TOKENS:
            return False
    return (
        usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
        and usage.cache_write_1h_tokens <= usage.cache_write_tokens
        and usage.reasoning_tokens <= usage.output_tokens
    )


#: the usage of a response whose usage is not a record at all (a string, a number, a list)
UNREADABLE_USAGE = Usage(input_tokens=UNREADABLE)

#: the usual rule of thumb for English text and today's tokenizers
CHARS_PER_TOKEN = 4
_TEXT_KEYS = frozenset({"content", "text", "input", "instructions", "arguments", "parts", "system"})


def estimate_tokens(content: Any) -> int:
    """A rough token count of request content: strings, message lists, content parts.

    Used where the provider reports nothing: the worst-case cost a blocking budget reserves
    before a call, and the usage of a stream that ended before its usage arrived (marked
    ``estimated``)."""
    return (_text_length(content) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _text_length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_text_length(v) for k, v in value.items() if k in _TEXT_KEYS)
    if isinstance(value, (list, tuple)):
        return sum(_text_length(v) for v in value)
    text = getattr(value, "text", None)  # SDK content objects (e.g. google-genai Part)
    return len(text) if isinstance(text, str) else 0


def estimated_usage(prompt: Any, output_tokens: int) -> Usage:
    """The usage of a stream that ended before it reported any: the prompt's estimated tokens
    and the output received (about one token per content chunk), marked ``estimated``."""
    return Usage(input_tokens=estimate_tokens(prompt), output_tokens=output_tokens, estimated=True)
