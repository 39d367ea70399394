"""Pure protocol codecs: request bodies out, typed events in. No IO, no httpx.

Each codec module offers ``PATH``, ``build_body(messages, options)``, ``StreamParser`` (with
``feed(data) -> list[Event]`` / ``flush()``) and ``parse_response(body) -> list[Event]``.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import OptionError


def codec(protocol: str) -> ModuleType:
    if protocol == "openai":
        from . import openai_chat

        return openai_chat
    if protocol == "anthropic":
        from . import anthropic_messages

        return anthropic_messages
    raise OptionError(f"unknown protocol {protocol!r}; use openai or anthropic")
