"""The answer cache of cells and the Python API, on the ledger's request-keyed store (thin IO).

The accounting (:class:`~evo_magic.ledger.accounting.Accounting`) keeps the kernel's mode
(``%deepseek cache``, ``%config DeepSeekMagics.cache``; None: ``EVO_MAGIC_CACHE``, else off,
read when a question is asked, not at ``%load_ext``) and answers the session's three hooks
with these functions: :func:`lookup` (the kept answer of an exact request), :func:`keep` (a
complete answer, by its request key) and, for ``%deepseek restore`` from a notebook,
:func:`seed`. :func:`summary` is what bare ``%deepseek cache`` says. sqlite3 is imported by
:mod:`~evo_magic.ledger.answers` only when the cache is first used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ..core.snapshot import TurnSnapshot
from ..sessions.cache import Hit

if TYPE_CHECKING:
    from ..sessions.reply import Reply
    from .store import Ledger


def lookup(ledger: Ledger, key: str) -> Hit | None:
    """The answer kept for the request ``key``, as the session replays it (None: none)."""
    from .answers import Answers

    stored = Answers(ledger).get(key)
    return None if stored is None else Hit(stored.events, stored.at, stored.model)


def keep(ledger: Ledger, reply: Reply) -> None:
    """Keep the complete answer ``reply`` under its request key (a newer one replaces it)."""
    from .answers import Answers

    if reply.request_key is None:
        return
    Answers(ledger).put(
        reply.request_key,
        reply.snapshot,
        protocol=reply.protocol,
        model=reply.model,
        cost=reply.cost,
        request_id=reply.ledger_request,
    )


@dataclass(frozen=True)
class Seed:
    """An answer a notebook carries (``%deepseek restore``), to keep under its request key."""

    key: str
    snapshot: TurnSnapshot
    protocol: str
    model: str
    cost: Decimal | None
    at: datetime | None


def seed(ledger: Ledger, seeds: Iterable[Seed]) -> int:
    """Keep the answers of ``seeds`` the store does not hold yet; how many were added (an
    answer already kept here, this machine's own, is never replaced by a notebook's)."""
    from .answers import Answers

    answers = Answers(ledger)
    wanted = {s.key: s for s in seeds}
    held = answers.get_many(wanted)
    added = 0
    for key, s in wanted.items():
        if key not in held:
            answers.put(key, s.snapshot, protocol=s.protocol, model=s.model, cost=s.cost, at=s.at)
            added += 1
    return added


@dataclass(frozen=True)
class Summary:
    """What caching did for one notebook: answers replayed, what they saved (known savings; how
    many are unknown), and how many answers the store keeps in all."""

    replayed: int
    saved: Decimal
    unknown: int
    kept: int


def summary(ledger: Ledger, notebook: str) -> Summary:
    """:class:`Summary` of ``notebook`` from the ledger."""
    rows = ledger.query("SELECT saved FROM requests WHERE notebook = ? AND outcome = 'cached'", [notebook])
    known = [Decimal(r[0]) for r in rows if r[0] is not None]
    kept = int(ledger.query("SELECT count(*) FROM answers")[0][0])
    return Summary(len(rows), sum(known, Decimal(0)), len(rows) - len(known), kept)


__all__ = ["Seed", "Summary", "keep", "lookup", "seed", "summary"]
