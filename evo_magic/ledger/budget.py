"""A spending limit per notebook (pure): warn from 80 %, refuse what would start past it.

The rule, decided before each request from the notebook's spend in the ledger (known costs
only) and an estimate of this request's input cost:

* **refuse** when the spend has already reached the limit, or when spend + the estimated
  input cost of this request is over it. The output cannot be priced in advance, so a
  request that starts under the limit may end a little over it; the next one is refused.
  The input estimate assumes no cache hits (an upper bound); an unknown estimate counts 0.
* **warn** when spend + estimate is at least 80 % of the limit.
* **ok** otherwise, and always when no limit is set.

Requests whose price is unknown are not in the spend (an unknown price is never $0); the
messages say how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, TypeAlias

from ..display.money import format_money
from ..display.notices import plural
from ..errors import EvoMagicError, OptionError

WARN_AT = Decimal("0.8")
State: TypeAlias = Literal["ok", "warn", "refuse"]
LARGE_PROMPT_TOKENS = 100_000  # show the estimated input cost of prompts above this


class BudgetExceeded(EvoMagicError):
    """A request refused before it was sent, because the notebook's budget is spent."""

    hint = "Raise or lift the limit with %config DeepSeekMagics.budget = AMOUNT (or None)."


@dataclass(frozen=True)
class BudgetVerdict:
    """The outcome of :func:`check`: ``state`` is ``"ok"``, ``"warn"`` or ``"refuse"``;
    ``message`` is one line naming the spend and the limit."""

    state: State
    spend: Decimal
    limit: Decimal | None
    estimate: Decimal | None
    message: str

    @property
    def refused(self) -> bool:
        return self.state == "refuse"

    def raise_if_refused(self) -> None:
        """Raise :class:`BudgetExceeded` with the message when the request is refused."""
        if self.refused:
            raise BudgetExceeded(self.message)


def check(
    spend: Decimal,
    limit: Decimal | None,
    estimate: Decimal | None = None,
    *,
    notebook: str = "this notebook",
    unpriced: int = 0,
) -> BudgetVerdict:
    """Decide whether a request may start (see the module docstring for the rule)."""
    left_out = f" Not counted: {plural(unpriced, 'request')} with unknown price." if unpriced else ""
    if limit is None:
        return BudgetVerdict("ok", spend, None, estimate, f"No budget for {notebook}: {format_money(spend)} spent.")
    projected = spend + (estimate or 0)
    status = f"{format_money(spend)} of {format_money(limit)} spent{_percent(spend, limit)}"
    if spend >= limit:
        message = f"Budget for {notebook} is used up: {status}; request refused.{left_out}"
        return BudgetVerdict("refuse", spend, limit, estimate, message)
    if projected > limit:
        message = (
            f"Request refused: its input alone is estimated at {format_money(estimate)}, which would take "
            f"{notebook} past its budget: {status}.{left_out}"
        )
        return BudgetVerdict("refuse", spend, limit, estimate, message)
    state: State = "warn" if projected >= WARN_AT * limit else "ok"
    with_this = ""
    if state == "warn" and spend < WARN_AT * limit:  # this request's input brings it to 80 %
        reaches = int(projected * 100 / limit)  # floored, as _percent
        with_this = f" With this request's input (about {format_money(estimate)}) it reaches {reaches} %."
    return BudgetVerdict(state, spend, limit, estimate, f"Budget for {notebook}: {status}.{with_this}{left_out}")


def _percent(spend: Decimal, limit: Decimal) -> str:
    if limit <= 0:
        return ""
    return f" ({int(spend * 100 / limit)} %)"  # floored: 79.9 % never reads as 80 %


def parse_limit(value: object) -> Decimal | None:
    """A budget from ``%config`` or an option: ``2``, ``2.5``, ``"2.50"``, ``"$2"``, or
    None / ``""`` / ``"none"`` for no budget. Raises :class:`OptionError` otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    if isinstance(value, bool):
        raise OptionError(f"a budget is an amount of USD, not {value!r}")
    try:
        amount = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise OptionError(f"a budget is an amount of USD like 2.50, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise OptionError(f"a budget must be zero or more USD, not {value!r}")
    return amount


def large_prompt_notice(tokens: int, estimate: Decimal | None, model: str) -> str | None:
    """One line before a prompt of more than :data:`LARGE_PROMPT_TOKENS` (estimated) tokens
    telling its estimated input cost; None for smaller prompts."""
    if tokens <= LARGE_PROMPT_TOKENS:
        return None
    if estimate is None:
        return f"Large prompt: about {tokens:,} tokens; input cost unknown (no price for {model})."
    return (
        f"Large prompt: about {tokens:,} tokens; estimated input cost {format_money(estimate)} "
        f"at {model}'s cache-miss price (less with cache hits)."
    )
