"""How money reads (pure): USD amounts as ``Decimal`` in, text out; an unknown cost is never $0.

The ledger keeps exact amounts; these are the only words for them, used by the answer footer,
``%deepseek usage``, the budget's messages and the chat panel.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["format_money", "if_billed"]


def format_money(amount: Decimal | None, *, fixed: bool = False) -> str:
    """``"unknown"`` for None; ``$0.00``; ``<$0.0001``; ``$0.0012`` / ``$0.45`` below a
    dollar (up to 4 decimals, at least 2); ``$1,234.56`` from a dollar on.

    ``fixed``: always 4 decimals below a dollar (``$0.0000``, ``$0.0030``, ``$0.4500``), for a
    figure that grows in place (a live progress line) and must keep its width."""
    if amount is None:
        return "unknown"
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    if amount == 0:
        return "$0.0000" if fixed else "$0.00"
    if amount < Decimal("0.0001"):
        return f"{sign}<$0.0001"
    whole, _, fraction = f"{amount:.4f}".partition(".")
    if whole != "0":  # a dollar or more, once rounded
        return f"{sign}${amount:,.2f}"
    return f"{sign}${whole}.{fraction if fixed else fraction.rstrip('0').ljust(2, '0')}"


def if_billed(money: str) -> str:
    """How the cost of a request the bundled emulator answered reads: ``$0.0001 if billed
    (emulator)``, what DeepSeek would charge for it; nobody is billed. ``money`` is a
    :func:`format_money` text (``unknown`` stays unknown)."""
    return f"{money} if billed (emulator)"
