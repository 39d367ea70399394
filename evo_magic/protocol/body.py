"""What both codecs share: reading a JSON body or event safely (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.messages import Message
from ..errors import OptionError, ProtocolError

#: What reading a payload of the wrong shape may raise (a list where a mapping belongs, a number
#: too large for an int, JSON nested too deep); the parsers turn it into a ProtocolError.
MALFORMED = (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError)


_RAW_DECODE = json.JSONDecoder().raw_decode


def loads_event(text: str) -> Any:
    """One streamed event's JSON (``text`` stripped), as :func:`json.loads` reads it, without
    its whitespace checks: the hot path, one call per token. Data after the value is an error,
    as there."""
    value, end = _RAW_DECODE(text)
    if end != len(text):
        raise ValueError(f"extra data after the JSON value, at {end}")
    return value


def decode_body(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A non-streamed JSON body as a mapping; leading blank lines (queue keep-alives) are fine."""
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            data = json.loads(text.strip())
        except MALFORMED as exc:
            raise ProtocolError(f"the server sent a body that is not JSON: {text.strip()[:80]!r}") from exc
    else:
        data = body
    if not isinstance(data, Mapping):
        raise ProtocolError("the server sent a JSON body that is not an object")
    return data


def text_of(value: Any) -> str | None:
    """A string field of an event as sent, or None when it is missing or not a string."""
    return value if isinstance(value, str) else None


def prefix_last(messages: Iterable[Message]) -> list[Message]:
    """``messages`` as a list, checked: a prefix message (the answer's start, for the model to
    continue) can only be the last one."""
    out = list(messages)
    if any(m.prefix for m in out[:-1]):
        raise OptionError("a prefix message (the start of the answer to continue) must be the last message")
    return out


__all__ = ["MALFORMED", "decode_body", "prefix_last", "text_of"]
