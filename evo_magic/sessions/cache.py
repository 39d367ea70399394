"""The answer cache's modes and the rule that picks the one in force (pure).

A request already answered can be answered again from the request-keyed store
(:mod:`evo_magic.ledger.answers`) instead of being sent: the session's request step
(:class:`~evo_magic.sessions.request.Exchange`) asks its host for the kept answer of the exact
request (:func:`~evo_magic.core.replay.request_key`) before anything is sent. The mode says
what happens:

* ``off`` — neither look up nor keep (the default for cells: a re-run usually means "ask again");
* ``on`` — a kept answer is replayed for $0; a miss is asked and its complete answer kept;
* ``refresh`` — ask again, and keep the new answer in place of the old one;
* ``replay-only`` — a miss is a one-line :class:`CacheMiss` instead of a request (CI that
  must never spend). A call cannot loosen it: ``replay-only`` holds whatever a cell says.

The mode in force (:func:`effective_mode`): the call's own (``--cache`` / ``--no-cache``,
``ask(cache=...)``), else the kernel's (``%deepseek cache``, ``%config DeepSeekMagics.cache``),
else ``EVO_MAGIC_CACHE`` (headless runs: nbconvert, papermill, nbclient), else ``off`` —
except that ``replay-only``, from the kernel or the environment, holds over everything: CI
that runs a notebook whose first cell says ``%deepseek cache on`` still never spends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from ..core.events import Event
from ..errors import ConfigError, EvoMagicError, OptionError

CacheMode: TypeAlias = Literal["off", "on", "refresh", "replay-only"]
CACHE_MODES: tuple[CacheMode, ...] = ("off", "on", "refresh", "replay-only")
CACHE_VAR = "EVO_MAGIC_CACHE"
LOOKS_UP: tuple[CacheMode, ...] = ("on", "replay-only")  # modes that answer from the store
KEEPS: tuple[CacheMode, ...] = ("on", "refresh")  # modes that keep a new complete answer
FILL_HINT = "%deepseek cache on (or EVO_MAGIC_CACHE=on)"


class CacheMiss(EvoMagicError):
    """``replay-only``: the exact request has no kept answer, and none is asked for."""


@dataclass(frozen=True)
class Hit:
    """A kept answer: its events (they fold into the answer as it was) and when it was answered."""

    events: tuple[Event, ...]
    at: datetime
    model: str


def parse_mode(value: str, where: str) -> CacheMode:
    """``value`` as a mode (case and surrounding spaces ignored); OptionError naming ``where``."""
    wanted = value.strip().lower()
    for mode in CACHE_MODES:
        if mode == wanted:
            return mode
    raise OptionError(f"{where} is one of {', '.join(CACHE_MODES)}, not {value!r}")


def environment_mode(environ: Mapping[str, str] | None = None) -> CacheMode | None:
    """``EVO_MAGIC_CACHE`` (None when unset or empty); a value that is no mode is a ConfigError,
    so a misspelt ``replay_only`` in CI cannot silently spend."""
    raw = (os.environ if environ is None else environ).get(CACHE_VAR, "")
    if not raw.strip():
        return None
    try:
        return parse_mode(raw, CACHE_VAR)
    except OptionError as exc:
        raise ConfigError(exc.one_line()) from None


def effective_mode(
    setting: CacheMode | None, override: str | None, environ: Mapping[str, str] | None = None
) -> CacheMode:
    """The mode in force for one question (see the module doc): ``override`` (the call's),
    ``setting`` (the kernel's), the environment, ``off``; ``replay-only`` from the kernel or the
    environment is never loosened, by a call or by the notebook's own setting."""
    env = environment_mode(environ)
    if "replay-only" in (setting, env):  # CI's guard: a notebook's own "cache on" cannot spend
        return "replay-only"
    if override is not None:
        return parse_mode(override, "cache")
    return setting or env or "off"


def miss_message(cell: object, prompt: str | None) -> str:
    """The one line of a ``replay-only`` miss: which cell (or question), and how to fill the cache."""
    start = " ".join((prompt or "").split())
    start = start if len(start) <= 50 else start[:49] + "…"
    quoted = f'"{start}"' if start else "this request"
    where = f"In[{cell}] {quoted}" if isinstance(cell, int) and not isinstance(cell, bool) else quoted
    return (
        f"replay-only: {where} has no kept answer (never answered with the cache on, or its prompt, "
        f"an option or an earlier turn changed); fill the cache with one run under {FILL_HINT}"
    )


__all__ = [
    "CACHE_MODES",
    "CACHE_VAR",
    "FILL_HINT",
    "KEEPS",
    "LOOKS_UP",
    "CacheMiss",
    "CacheMode",
    "Hit",
    "effective_mode",
    "environment_mode",
    "miss_message",
    "parse_mode",
]
