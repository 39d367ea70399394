"""``%deepseek cache``: the kernel's answer cache mode, and what caching saved (IPython surface).

The mode itself lives in the accounting (set through the ``cache`` trait of the magic, so
``%deepseek config`` and ``%config DeepSeekMagics.cache`` agree); the rule that picks the one
in force is :func:`~evo_magic.sessions.cache.effective_mode`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from ..display.money import format_money
from ..display.notices import Notice, plural
from ..errors import EvoMagicError
from ..sessions.cache import CACHE_MODES, CACHE_VAR, CacheMode, effective_mode, environment_mode, parse_mode

if TYPE_CHECKING:
    from ..ledger.accounting import Accounting

USAGE = f"usage: %deepseek cache [{'|'.join(CACHE_MODES)}]"
MEANING: dict[CacheMode, str] = {
    "off": "every cell asks again; %deepseek cache on answers a re-run exact request from the answers "
    "kept, for $0, and keeps the new ones",
    "on": "a cell whose exact request was answered before is answered from the cache, for $0; new "
    "complete answers are kept",
    "refresh": "every cell asks again and its new answer replaces the kept one",
    "replay-only": "a cell whose exact request has no kept answer fails in one line instead of sending it",
}


def parse_command(rest: list[str]) -> CacheMode:
    """The mode ``%deepseek cache MODE`` names; a one-line UsageError otherwise."""
    if len(rest) != 1:
        raise UsageError(USAGE)
    try:
        return parse_mode(rest[0], "the cache mode")
    except EvoMagicError as exc:
        raise UsageError(exc.one_line()) from None


def cache_status(acc: Accounting, setting: CacheMode | None, *, changed: bool) -> Notice:
    """The mode in force and what it means; bare (``changed`` False), also what caching saved
    this notebook and how many answers are kept."""
    try:
        mode = effective_mode(setting, None)
        env = environment_mode()
        source = f" (from {CACHE_VAR})" if env is not None and (setting is None or env == mode != setting) else ""
    except EvoMagicError as exc:
        raise UsageError(exc.one_line()) from None
    text = f"Cache: {mode}{source} — {MEANING[mode]}."
    if not changed:
        text += " " + _savings(acc)
    return Notice(text, title=None, code=["%deepseek cache on"] if mode == "off" else [])


def _savings(acc: Accounting) -> str:
    from ..ledger.cache import summary
    from ..ledger.notebook_id import short_name
    from ..ledger.store import LedgerError

    try:
        done = summary(acc.ledger, acc.notebook)
    except LedgerError as exc:
        return f"What it saved cannot be read: {exc.one_line()}"
    saved = format_money(done.saved) + (f" + {done.unknown} unknown" if done.unknown else "")
    replays = f"{plural(done.replayed, 'answer')} from the cache saved {saved}"
    if not done.replayed:
        replays = "no answer from the cache yet"
    return f"{short_name(acc.notebook)}: {replays}; {plural(done.kept, 'answer')} kept in all."


__all__ = ["MEANING", "USAGE", "cache_status", "parse_command"]
