"""Stateful filters over the text of stream deltas, one stream field at a time (pure).

A stream field is the answer text of a choice, a thinking block of a choice, or the arguments
of a tool call. A filter may hold back the end of a field's text until the next delta of the
same field shows how it goes on, and gives what it still holds when the stream ends::

    events = filter.feed(events)   # per parsed payload
    events = filter.flush()        # at the end of the stream (also after an error or Ctrl-C)

* :class:`SurrogateJoin` (used by both protocol parsers): a gateway that cuts text at UTF-16
  boundaries sends ``"A\\ud83d"`` then ``"\\ude00B"``; the high half waits for the low one, so
  ``A😀B`` arrives. A half without its partner becomes U+FFFD, so every consumer (views,
  history, ledger, ``-o``) gets text that UTF-8 can carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from .events import Event, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta

_SURROGATE = re.compile("[\ud800-\udfff]")
_Key = tuple[Any, ...]


def _field(event: Event) -> tuple[_Key, str] | None:
    """The stream field an event adds text to, and that text (None: no such field)."""
    match event:
        case TextDelta(text=text, choice=c):
            return ("text", c), text
        case ReasoningDelta(text=text, block=b, choice=c):
            return ("reasoning", c, b), text
        case ToolCallDelta(index=i, arguments=args, choice=c):
            return ("arguments", c, i), args
        case _:
            return None


def _with_text(event: Event, text: str) -> Event:
    if isinstance(event, (TextDelta, ReasoningDelta)):
        return replace(event, text=text)
    return replace(cast(ToolCallDelta, event), arguments=text)


def _delta(key: _Key, text: str) -> Event:
    """A delta adding ``text`` to field ``key``."""
    if key[0] == "text":
        return TextDelta(text, key[1])
    if key[0] == "reasoning":
        return ReasoningDelta(text, block=key[2], choice=key[1])
    return ToolCallDelta(key[2], arguments=text, choice=key[1])


class DeltaFilter:
    """Rewrites the text of each delta with :meth:`text`; :meth:`rest` is what a field still
    holds at the end. Other events pass unchanged; a text delta left empty is dropped."""

    def __init__(self) -> None:
        self._held: dict[_Key, str] = {}

    def text(self, key: _Key, text: str) -> str:
        raise NotImplementedError

    def rest(self, key: _Key, held: str) -> str:
        return held

    def feed(self, events: Iterable[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            found = _field(event)
            if found is None:
                out.append(event)
                continue
            text = self.text(*found)
            if text != found[1]:
                if not text and isinstance(event, TextDelta):
                    continue
                event = _with_text(event, text)
            out.append(event)
        return out

    def flush(self) -> list[Event]:
        held, self._held = self._held, {}
        return [_delta(key, rest) for key, text in held.items() if (rest := self.rest(key, text))]


def clean(text: str) -> str:
    """``text`` with its surrogate pairs joined and every lone half replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


_NAMES = {ResponseStarted: ("id", "model"), ToolCallDelta: ("id", "name"), ReasoningDelta: ("signature",)}


def _clean_names(event: Event) -> Event:
    """``event`` with the ids, names and signature the server sent as clean text."""
    names = _NAMES.get(type(event), ())
    dirty = {n: clean(v) for n in names if isinstance(v := getattr(event, n), str) and not v.isascii()}
    return replace(cast(Any, event), **dirty) if dirty else event


class SurrogateJoin(DeltaFilter):
    """Joins surrogate pairs split across deltas of one field (see the module docstring); the
    ids, names, models and signatures the server sends are cleaned too."""

    def text(self, key: _Key, text: str) -> str:
        if self._held:
            text = self._held.pop(key, "") + text
        if text.isascii():
            return text
        if "\ud800" <= text[-1] <= "\udbff":  # a high half: its partner may come next
            self._held[key] = text[-1]
            text = text[:-1]
        return clean(text)

    def rest(self, key: _Key, held: str) -> str:
        return "\ufffd"

    def feed(self, events: Iterable[Event]) -> list[Event]:
        return [_clean_names(e) for e in super().feed(events)]
