"""Pure protocol codecs: request bodies out, typed events in. No IO, no httpx.

Each codec module (:mod:`.openai_chat`, :mod:`.anthropic_messages`) is a :class:`Codec`:
``PATH``, ``build_body(messages, options)``, ``StreamParser`` (``feed(data) -> list[Event]`` /
``flush()``) and ``parse_response(body) -> list[Event]``. Both produce the same typed events
(:mod:`evo_magic.core.events`), so nothing above this package asks which protocol ran.
The fill-in-the-middle codec (:mod:`.fim`) has the same parts, with
``build_body(prompt, suffix, options)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..core.events import Event
from ..core.messages import Message
from ..core.options import PROTOCOLS, RequestOptions
from ..errors import OptionError


class Parser(Protocol):
    """An incremental stream parser: never blocks, never raises on partial or bad input."""

    def feed(self, data: str) -> list[Event]: ...

    def flush(self) -> list[Event]: ...


class Reader(Protocol):
    """What one request needs of its wire protocol (a module): the path, and typed events in
    from a stream or a body. Every codec is one, the FIM codec (:mod:`.fim`) included."""

    @property
    def PATH(self) -> str: ...  # a module constant

    @property
    def StreamParser(self) -> Callable[[], Parser]: ...  # a class of the module

    def parse_response(self, body: bytes | str | Mapping[str, Any]) -> list[Event]: ...


class Codec(Reader, Protocol):
    """One chat protocol, as a module: the request body out, typed events in."""

    def build_body(self, messages: Iterable[Message], opts: RequestOptions) -> dict[str, Any]: ...


def codec(protocol: str) -> Codec:
    """The codec of ``protocol`` (``"openai"`` or ``"anthropic"``), imported on first use."""
    if protocol == "openai":
        from . import openai_chat

        return openai_chat
    if protocol == "anthropic":
        from . import anthropic_messages

        return anthropic_messages
    raise OptionError(f"unknown protocol {protocol!r}; use {' or '.join(PROTOCOLS)}")


__all__ = ["Codec", "Parser", "Reader", "codec"]
