"""Sums of ledger requests per group, and their table (pure: no sqlite3).

:func:`group_totals` sums request records (what ``evo_magic.usage()`` returns) per group into
:class:`Totals`, the figures of ``%deepseek usage``. "Cost unknown" has one rule,
:func:`cost_unknown` (its SQL form, ``_UNKNOWN_COST`` in ``ledger.py``, serves the budget's quick
spend query): a request without a cost is unknown unless it failed before any token, which the
API does not bill. Requests the bundled emulator answered (``offline``) are counted and their
tokens summed with the rest, but their would-be cost is kept apart (``emulator_cost``), never in
``cost``, and the ``model`` column names them ``deepseek-v4-flash (emulator)``. Answers the
answer cache gave (outcome ``cached``: no request was sent) are counted as well, apart: they
spent no tokens and cost nothing, and their ``saved`` amounts sum into ``saved``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Protocol

from ..core.status import Outcome
from ..display.money import format_money, if_billed
from ..display.notices import Table
from .pricing import as_utc

GROUPS = ("notebook", "session", "model", "model_requested", "protocol", "outcome", "origin", "day")
# The outcome of a request that was sent but never settled (its kernel died or was restarted
# mid-answer): billed, tokens unknown. While a request streams, its row says so too.
STARTED: Final = "started"
TOKENS = ("prompt_tokens", "cache_hit_tokens", "cache_miss_tokens", "completion_tokens", "reasoning_tokens")


class Request(Protocol):
    """What :func:`group_totals` reads of a request (a ``UsageRecord``); the other grouping
    columns and the token counts are read by name."""

    @property
    def time(self) -> datetime: ...
    @property
    def model_requested(self) -> str: ...
    @property
    def model_answered(self) -> str | None: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def ttft(self) -> float | None: ...
    @property
    def offline(self) -> bool: ...
    @property
    def saved(self) -> Decimal | None: ...


@dataclass(frozen=True)
class Totals:
    """Sums over a group of requests; ``key`` holds the values of the ``by`` columns."""

    key: tuple[str, ...]
    requests: int  # emulator requests included
    priced: int  # billed requests with a known cost
    unknown_cost: int  # billed requests that may have cost something we cannot price
    no_usage: int  # requests the API reported no usage for (interrupted, failed)
    prompt_tokens: int
    cache_hit_tokens: int
    cache_miss_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost: Decimal  # sum of the known costs of billed requests (never the emulator's)
    emulator: int = 0  # requests the bundled emulator answered: nobody is billed for them
    emulator_priced: int = 0
    emulator_unknown: int = 0
    emulator_cost: Decimal = Decimal(0)  # what DeepSeek would have charged for them (known costs)
    cached: int = 0  # answers from the cache: no request, no tokens spent, $0
    saved: Decimal = Decimal(0)  # what asking again would have cost them (known amounts)

    @property
    def cost_text(self) -> str:
        """``$0.0123``, ``$0.0123 + 2 unknown`` or ``unknown`` (never $0 for unknown); emulator
        requests apart: ``$0.0004 if billed (emulator)``, or after the billed cost with ``; ``."""
        text = self.billed_text
        if self.emulator:
            emulated = if_billed(self.emulator_text)
            text = emulated if self.emulator == self.requests else f"{text}; {emulated}"
        return f"{text}; {self.saved_text}" if self.cached else text

    @property
    def saved_text(self) -> str:
        """``the cache saved $0.0012``."""
        return f"the cache saved {format_money(self.saved)}"

    def requests_text(self, *, emulator: bool = True) -> str:
        """``12 (1 without usage, 3 emulator, 2 from the cache)`` (``emulator``: say how many
        the emulator answered; a table's model column already does)."""
        notes = [f"{self.no_usage:,} without usage"] if self.no_usage else []
        notes += [f"{self.emulator:,} emulator"] if self.emulator and emulator else []
        notes += [f"{self.cached:,} from the cache"] if self.cached else []
        return f"{self.requests:,}" + (f" ({', '.join(notes)})" if notes else "")

    @property
    def billed_text(self) -> str:
        """The cost of the requests that are billed (the emulator's left out)."""
        return _money(self.cost, self.priced, self.unknown_cost)

    @property
    def emulator_text(self) -> str:
        """What the emulator's requests would have cost, had DeepSeek answered them."""
        return _money(self.emulator_cost, self.emulator_priced, self.emulator_unknown)

    @property
    def cache_hit_share(self) -> float | None:
        """Share of the input tokens served from the prefix cache (None without input)."""
        return self.cache_hit_tokens / self.prompt_tokens if self.prompt_tokens else None


def _money(cost: Decimal, priced: int, unknown: int) -> str:
    if not priced and unknown:
        return format_money(None)
    return format_money(cost) + (f" + {unknown} unknown" if unknown else "")


def cost_unknown(request: Request) -> bool:
    """No cost, and not a request that failed before any token (those are not billed)."""
    return request.cost is None and (
        request.prompt_tokens is not None or request.outcome != "error" or request.ttft is not None
    )


def group_key(request: Request, column: str) -> str:
    """The value of one grouping column (``model`` is the model that answered, else the one
    requested, with `` (emulator)`` after it for the bundled emulator; ``day`` is the UTC date)."""
    if column == "model":
        model = request.model_answered if request.model_answered is not None else request.model_requested
        return f"{model} (emulator)" if request.offline else model
    if column == "day":
        return as_utc(request.time).date().isoformat()
    if column not in GROUPS:
        raise ValueError(f"cannot group by {column}; choose from {', '.join(GROUPS)}")
    return str(getattr(request, column))


def group_totals(requests: Iterable[Request], by: Sequence[str] = ("session", "model")) -> list[Totals]:
    """Sums per group of ``by`` (any of :data:`GROUPS`), ordered by key; ``by=()`` gives one
    row (none for no requests)."""
    groups: dict[tuple[str, ...], list[Request]] = {}
    for request in requests:
        groups.setdefault(tuple(group_key(request, b) for b in by), []).append(request)
    return [_sum(key, members) for key, members in sorted(groups.items())]


def _sum(key: tuple[str, ...], members: list[Request]) -> Totals:
    cached = [r for r in members if r.outcome == "cached"]
    asked = [r for r in members if r.outcome != "cached"]  # the requests that were sent
    tokens: dict[str, int] = {name: sum(getattr(r, name) or 0 for r in asked) for name in TOKENS}
    cost, priced, unknown = _costs([r for r in asked if not r.offline])
    emulator = [r for r in asked if r.offline]
    emulator_cost, emulator_priced, emulator_unknown = _costs(emulator)
    return Totals(
        key,
        requests=len(members),
        priced=priced,
        unknown_cost=unknown,
        no_usage=sum(r.prompt_tokens is None for r in members),
        cost=cost,
        emulator=len(emulator),
        emulator_priced=emulator_priced,
        emulator_unknown=emulator_unknown,
        emulator_cost=emulator_cost,
        cached=len(cached),
        saved=sum((r.saved for r in cached if r.saved is not None), Decimal(0)),
        **tokens,
    )


def _costs(requests: list[Request]) -> tuple[Decimal, int, int]:
    """The exact sum of the known costs, how many are known and how many unknown."""
    known = [r.cost for r in requests if r.cost is not None]
    return sum(known, Decimal(0)), len(known), sum(cost_unknown(r) for r in requests)


def totals_table(totals: Sequence[Totals], by: Sequence[str] = ("session", "model"), title: str = "Usage") -> Table:
    """Totals as a :class:`~evo_magic.display.notices.Table` (text and HTML)."""
    rows = []
    for t in totals:
        cached = f" ({t.cache_hit_tokens / t.prompt_tokens:.0%} cached)" if t.prompt_tokens else ""
        reasoning = f" ({t.reasoning_tokens:,} reasoning)" if t.reasoning_tokens else ""
        tokens = [f"{t.prompt_tokens:,}{cached}", f"{t.completion_tokens:,}{reasoning}"]
        rows.append([*t.key, t.requests_text(emulator=False), *tokens, t.cost_text])
    return Table(title, [*by, "requests", "input tokens", "output tokens", "cost"], rows)
