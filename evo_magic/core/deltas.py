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
* :class:`SecretMask` (between parser and snapshot in the session): every remembered secret
  (the API key) the model repeats is masked as prompts are, also when it is split across
  deltas: only a tail that could be the start of a secret is held back; the ids, names, model,
  signature and finish reason the server sends are masked whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar, cast

from ..errors import mask_secrets, remembered_secrets
from .events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: The stream field a delta adds text to: ("text", choice), ("reasoning", choice, block) or
#: ("arguments", choice, tool call index).
_Key: TypeAlias = tuple[Literal["text"], int] | tuple[Literal["reasoning", "arguments"], int, int]


_TEXT_OF = {TextDelta: "text", ReasoningDelta: "text", ToolCallDelta: "arguments"}  # the field's text


def _key(event: Event) -> _Key:
    """The stream field a delta adds text to."""
    if isinstance(event, ReasoningDelta):
        return ("reasoning", event.choice, event.block)
    if isinstance(event, ToolCallDelta):
        return ("arguments", event.choice, event.index)
    return ("text", cast(TextDelta, event).choice)


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

    def passes(self, text: str) -> bool:
        """True when ``text`` needs nothing done while nothing is held (the hot path)."""
        return False

    def text(self, key: _Key, text: str) -> str:
        raise NotImplementedError

    def rest(self, key: _Key, held: str) -> str:
        return held

    def feed(self, events: Iterable[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            attr = _TEXT_OF.get(type(event))
            if attr is None:
                out.append(event)
                continue
            text = getattr(event, attr)
            if not self._held and self.passes(text):
                out.append(event)
                continue
            new = self.text(_key(event), text)
            if new != text:
                if not new and isinstance(event, TextDelta):
                    continue
                event = _with_text(event, new)
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
_SERVER_NAMES = {**_NAMES, Finished: ("reason", "stop_sequence")}  # the server's own strings besides the text


def _clean_names(event: Event) -> Event:
    """``event`` with the ids, names and signature the server sent as clean text."""
    names = _NAMES.get(type(event), ())
    dirty = {n: clean(v) for n in names if isinstance(v := getattr(event, n), str) and not v.isascii()}
    return _replaced(event, dirty) if dirty else event


def _replaced(event: D, changes: dict[str, str]) -> D:
    """``event`` with ``changes`` (field names of whichever event it is)."""
    return replace(event, **changes)


class SurrogateJoin(DeltaFilter):
    """Joins surrogate pairs split across deltas of one field (see the module docstring); the
    ids, names, models and signatures the server sends are cleaned too."""

    def passes(self, text: str) -> bool:
        return text.isascii() or not _SURROGATE.search(text)

    def text(self, key: _Key, text: str) -> str:
        if self._held:
            text = self._held.pop(key, "") + text
        if self.passes(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":  # a high half: its partner may come next
            self._held[key] = text[-1]
            text = text[:-1]
        return clean(text)

    def rest(self, key: _Key, held: str) -> str:
        return "\ufffd"

    def feed(self, events: Iterable[Event]) -> list[Event]:
        return [_clean_names(e) if type(e) in _NAMES else e for e in super().feed(events)]


def _start_of_secret(text: str, secrets: Iterable[str]) -> int:
    """Length of the longest end of ``text`` that is the start (not the whole) of a secret."""
    longest = 0
    for secret in secrets:
        at = text.find(secret[0], max(0, len(text) - len(secret) + 1))
        while at != -1 and len(text) - at > longest:
            if secret.startswith(text[at:]):
                longest = len(text) - at
                break
            at = text.find(secret[0], at + 1)
    return longest


def _heads(secret: str) -> tuple[str, tuple[str, ...]]:
    """What a quick check looks for: the secret's first (up to) four characters anywhere, and
    its shorter starts at the end. Text with none of them neither holds the secret nor ends
    with a start of it (a longer start would contain the four)."""
    k = min(len(secret), 4)
    return secret[:k], tuple(secret[:i] for i in range(1, k))


class SecretMask(DeltaFilter):
    """Masks every remembered secret (those known when it is made, or ``secrets``) in the
    model's output, as :func:`~evo_magic.errors.scrub` masks user text, whatever deltas it is
    split across."""

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self._secrets = tuple(s for s in (remembered_secrets() if secrets is None else secrets) if s)
        self._heads = [_heads(s) for s in self._secrets]

    def passes(self, text: str) -> bool:
        for head, starts in self._heads:  # C-speed string checks: the common delta ends here
            if head in text or (starts and text.endswith(starts)):
                return not _start_of_secret(text, self._secrets) and not self._within(text)
        return True

    def _within(self, text: str) -> bool:
        return any(secret in text for secret in self._secrets)

    def feed(self, events: Iterable[Event]) -> list[Event]:
        """The text masked as it streams; the ids, names, model, signature and finish reason
        the server sends (a proxy may echo the key into them) masked whole."""
        return [self._names(e) if type(e) in _SERVER_NAMES else e for e in super().feed(events)]

    def _names(self, event: Event) -> Event:
        names = _SERVER_NAMES[type(event)]
        found = {n: mask_secrets(v, self._secrets) for n in names
                 if isinstance(v := getattr(event, n), str) and self._within(v)}  # fmt: skip
        return _replaced(event, found) if found else event

    def text(self, key: _Key, text: str) -> str:
        if self._held:
            text = self._held.pop(key, "") + text
        text = mask_secrets(text, self._secrets) if self._within(text) else text
        keep = _start_of_secret(text, self._secrets)
        if keep:
            self._held[key] = text[-keep:]
            text = text[:-keep]
        return text
