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
        try:
            from . import anthropic_messages  # type: ignore[attr-defined]
        except ImportError as exc:  # pragma: no cover - until the codec lands
            raise OptionError("the anthropic protocol is not available in this version") from exc
        return anthropic_messages
    raise OptionError(f"unknown protocol {protocol!r}; use openai or anthropic")
