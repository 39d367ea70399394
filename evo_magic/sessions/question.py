"""One ``ask`` of a session, resolved once: what every request of its tool loop shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.schema import Schema
from ..core.snapshot import ToolCall
from .cache import CacheMode
from .host import LoopBounds
from .request import ViewFactory
from .tools import Functions


@dataclass(frozen=True)
class Question:
    """One ``ask``, resolved: the options (validated once), the loop's bounds, the functions
    the model may call, and where the answer goes."""

    prompt: str
    system: str | None
    opts: RequestOptions
    bounds: LoopBounds
    functions: Functions
    cell: Any = None
    cell_id: str | None = None
    views: ViewFactory = lambda opts: None
    approve: Callable[[ToolCall], bool] | None = None
    on_tool: Callable[[ToolCall, str, bool], None] | None = None
    schema: Schema | None = None
    cache: CacheMode = "off"  # the answer cache's mode for this question (sessions/cache.py)
    prefix: Message | None = None  # the start of the answer (prefix continuation)


__all__ = ["Question"]
