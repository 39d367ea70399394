"""The estimate a ``dry_run`` shows before anything is sent (pure, given prices and a counter).

For the rendered request bodies of a run, :func:`estimate` counts:

- rows and distinct requests: identical bodies are asked once (their answer is shared);
- prompt tokens of the distinct requests, as DeepSeek bills them (:mod:`~evo_magic.core.tokens`:
  exact with DeepSeek's vocabulary, else marked approximate);
- predicted cache hits: DeepSeek caches whole 64-token units of a prefix shared with an
  earlier request, from token 0. The first request pays the miss price for everything; each
  later one hits the whole 64-token units of the prefix it shares with the first (the
  instruction, see :mod:`~evo_magic.batch.template`). This is the best case: rows sent at once
  before the first is cached, or a cache evicted, miss — the actual share is reported after;
- output tokens: at most ``max_tokens`` per request (DeepSeek's default when unset: 8K
  without thinking, 64K with it), at least one; with a pilot's measured outputs, their mean
  is the expectation and their smallest the lower bound;
- cost: at the price in force at ``at`` (peak or off-peak), the range from the least output
  to the most, the expectation when a pilot was given, and the same at the other period's
  price when the model has one within the next week.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..core.tokens import Tokenizer, thinking_of, tokenizer
from ..core.usage import Usage
from ..display.money import format_money
from ..display.notices import Table
from ..ledger.pricing import Price, PriceTable, price_for

CACHE_UNIT = 64
DEFAULT_MAX_TOKENS = {False: 8_192, True: 65_536}  # DeepSeek's defaults (Oct 2026 docs)
BATCH = 512  # bodies tokenized per call
_LOOKAHEAD = timedelta(days=7)
_STEP = timedelta(minutes=30)


@dataclass(frozen=True)
class Estimate:
    """What a run would send and cost. Tokens are ints, money Decimal (None: unknown price)."""

    model: str
    rows: int
    distinct: int
    prompt_tokens: int
    cache_hit_tokens: int
    output_min: int
    output_max: int
    output_expected: int | None
    exact: bool
    at: datetime
    price: Price | None
    other_price: Price | None = None  # the other period's (off-peak when now is peak, ...)
    kept: int = 0  # rows an earlier run answered (kept): nothing to send for them
    notes: tuple[str, ...] = ()  # what to know before running (rows with missing values)
    unbounded: bool = False  # some request has no max_tokens: the model's maximum bounds it

    def with_rows(self, rows: int, kept: int, notes: tuple[str, ...] = ()) -> Estimate:
        """This estimate for a table of ``rows`` rows, ``kept`` of them answered already."""
        return replace(self, rows=rows, kept=kept, notes=notes)

    @property
    def cache_miss_tokens(self) -> int:
        return self.prompt_tokens - self.cache_hit_tokens

    @property
    def cache_hit_share(self) -> float | None:
        return self.cache_hit_tokens / self.prompt_tokens if self.prompt_tokens else None

    def cost(self, output: int, price: Price | None = None) -> Decimal | None:
        """The cost with ``output`` output tokens at ``price`` (default: the price now)."""
        price = price or self.price
        if price is None:
            return None
        return price.cost(Usage(self.prompt_tokens, self.cache_hit_tokens, self.cache_miss_tokens, output))

    @property
    def cost_range(self) -> tuple[Decimal | None, Decimal | None]:
        return self.cost(self.output_min), self.cost(self.output_max)

    @property
    def cost_expected(self) -> Decimal | None:
        return None if self.output_expected is None else self.cost(self.output_expected)

    def _rows(self) -> list[list[str]]:
        approx = "" if self.exact else " (approximate: no DeepSeek vocabulary installed)"
        share = "" if self.cache_hit_share is None else f" ({self.cache_hit_share:.0%} of the prompt)"
        once = " (identical rows asked once)" if self.distinct < self.rows - self.kept else ""
        out = [
            ["rows", f"{self.rows:,}"],
            *([["answered earlier (kept)", f"{self.kept:,} rows: nothing to send"]] if self.kept else []),
            ["distinct requests", f"{self.distinct:,}{once}"],
            ["prompt tokens", f"{self.prompt_tokens:,}{approx}"],
            ["predicted cache hits", f"{self.cache_hit_tokens:,}{share}"],
            ["output tokens", _output(self)],
        ]
        for label, price in (("now", self.price), ("other period", self.other_price)):
            if price is None and label == "other period":
                continue
            period = "" if price is None else f", {price.period.replace('_', '-')}"
            low, high = (self.cost(o, price) if price else None for o in (self.output_min, self.output_max))
            text = f"{format_money(low)} – {format_money(high)}"
            if self.output_expected is not None and price is not None:
                text += f", expected {format_money(self.cost(self.output_expected, price))}"
            out.append([f"cost {label}{period}", text if price else f"unknown (no price for {self.model})"])
        return out

    def _table(self) -> Table:
        note = f"{self.model} at {self.at:%Y-%m-%d %H:%M} UTC; nothing was sent"
        bound = ("output bounded only by the model's maximum per row: set max_tokens for a tighter bound, "
                 "or pilot=N for an expected figure")  # fmt: skip
        notes = [note, *([bound] if self.unbounded else []), *self.notes]
        return Table("Estimate", ["what", "estimate"], self._rows(), "\n".join(notes))

    def __repr__(self) -> str:
        return repr(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()


def _output(e: Estimate) -> str:
    text = f"{e.output_min:,} – {e.output_max:,}"
    return text + (f", expected {e.output_expected:,} (from the pilot)" if e.output_expected is not None else "")


def distinct_bodies(bodies: Iterable[Mapping[str, Any]]) -> tuple[int, list[Mapping[str, Any]]]:
    """(rows, the distinct bodies in first-seen order): identical requests are asked once."""
    seen: dict[str, Mapping[str, Any]] = {}
    rows = 0
    for body in bodies:
        rows += 1
        seen.setdefault(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str), body)
    return rows, list(seen.values())


def shared_prefix(a: Sequence[int], b: Sequence[int], hint: int = 0) -> int:
    """Length of the common prefix of ``a`` and ``b`` (``hint``: a likely length, tried first)."""
    n = min(hint, len(a), len(b))
    if a[:n] != b[:n]:
        n = 0
    limit = min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def max_tokens_set(body: Mapping[str, Any]) -> int | None:
    """The ``max_tokens`` the request sets; None when only the model's maximum bounds it."""
    value = body.get("max_tokens")
    return int(value) if isinstance(value, int) and value > 0 else None


def max_tokens_of(body: Mapping[str, Any], thinking: bool) -> int:
    return max_tokens_set(body) or DEFAULT_MAX_TOKENS[thinking]


def estimate(
    bodies: Iterable[Mapping[str, Any]],
    *,
    counter: Tokenizer | None = None,
    prices: PriceTable | None = None,
    at: datetime | None = None,
    pilot: Sequence[int] | None = None,
    model: str | None = None,
) -> Estimate:
    """The :class:`Estimate` of sending ``bodies`` (see the module docstring); ``pilot`` holds the
    completion tokens a small pilot run measured."""
    counter = counter or tokenizer()
    at = at or datetime.now(timezone.utc)
    rows, unique = distinct_bodies(bodies)
    prompt = hits = out_max = 0
    unbounded = False
    first: list[int] | None = None
    hint = 0
    for start in range(0, len(unique), BATCH):
        chunk = unique[start : start + BATCH]
        for body, ids in zip(chunk, counter.prompts_ids(chunk), strict=True):
            prompt += len(ids)
            out_max += max_tokens_of(body, thinking_of(body))
            unbounded = unbounded or max_tokens_set(body) is None
            if first is None:
                first = ids
                continue
            hint = shared_prefix(first, ids, hint)
            hits += hint // CACHE_UNIT * CACHE_UNIT
    n = len(unique)
    expected = out_min = None
    if pilot:
        expected = min(out_max, math.ceil(sum(pilot) / len(pilot) * n))
        out_min = min(expected, min(pilot) * n)
    model = model or (str(unique[0].get("model", "")) if unique else "")
    price = price_for(model, at, prices) if model else None
    return Estimate(
        model, rows, n, prompt, hits, out_min if out_min is not None else n, out_max, expected,
        counter.exact, at, price, _other_price(model, at, price, prices), unbounded=unbounded and not pilot,
    )


def _other_price(model: str, at: datetime, now: Price | None, prices: PriceTable | None) -> Price | None:
    """The first price of ``model`` within the next week that differs from ``now`` by period."""
    if now is None or now.period == "all":
        return None
    moment = at
    while moment < at + _LOOKAHEAD:
        moment += _STEP
        found = price_for(model, moment, prices)
        if found is not None and found.period != now.period:
            return found
    return None
