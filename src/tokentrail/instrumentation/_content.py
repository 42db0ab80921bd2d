"""Message content as the GenAI semantic conventions record it (``gen_ai.input.messages``,
``gen_ai.output.messages``): JSON lists of ``{"role", "parts": [{"type", "content"}]}``.
Only used with ``capture_content=True``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..names import GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES
from ._sdk import field


def text_parts(content: Any) -> list[dict[str, Any]]:
    """A string, or a list of content parts (dicts with ``text``), as semconv parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    if isinstance(content, (list, tuple)):
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append({"type": "text", "content": text})
                else:
                    parts.append({"type": str(part.get("type", "unknown"))})
    return parts


def input_messages(messages: Any) -> str | None:
    """Chat ``messages`` or Responses ``input`` as the semconv ``gen_ai.input.messages`` JSON."""
    if isinstance(messages, str):
        return json.dumps([{"role": "user", "parts": text_parts(messages)}])
    if not isinstance(messages, (list, tuple)):
        return None
    out = []
    for message in messages:
        if isinstance(message, str):  # a batch of prompts or embedding inputs
            out.append({"role": "user", "parts": text_parts(message)})
        elif isinstance(message, Mapping):
            out.append(
                {
                    "role": str(message.get("role", "user")),
                    "parts": text_parts(message.get("content")),
                }
            )
    return json.dumps(out, ensure_ascii=False) if out else None


def choice_messages(choices: Any, content: Callable[[Any, Any], Any]) -> str | None:
    """Chat-completion ``choices`` as the semconv ``gen_ai.output.messages`` JSON;
    ``content(choice, message)`` is the SDK's way to the text (a string or content parts)."""
    out = []
    for choice in choices or ():
        message = field(choice, "message")
        text = content(choice, message)
        out.append(
            {
                "role": field(message, "role") or "assistant",
                "parts": text_parts(text) if text else [],
                "finish_reason": str(field(choice, "finish_reason") or ""),
            }
        )
    return json.dumps(out, ensure_ascii=False) if out else None


def input_attributes(messages: Any) -> dict[str, str] | None:
    """``messages`` as the span attribute ``gen_ai.input.messages`` (None: nothing to record)."""
    captured = input_messages(messages)
    return None if captured is None else {GEN_AI_INPUT_MESSAGES: captured}


def streamed_output(pieces: list[str] | None) -> dict[str, str] | None:
    """The text a stream delivered, in pieces, as the span attribute ``gen_ai.output.messages``
    of one assistant message (None: no text)."""
    if not pieces:
        return None
    message = {"role": "assistant", "content": "".join(pieces)}
    return {GEN_AI_OUTPUT_MESSAGES: input_messages([message])}  # type: ignore[dict-item]
