"""Every request of a run in the ledger, and every answer in the request-keyed store (IO).

Each request is a ledger row (origin ``map``, the run's id, the request's key) written as
``started`` just before it is sent (:meth:`Recorder.started`, in the scheduler's thread, as a
cell's is): a kernel killed mid-run leaves every request it sent visible in the ledger — billed,
its tokens unknown — and none it did not send. Answers come back hundreds a second, so the
run's loop hands them over as they arrive and :meth:`Recorder.flush` writes them in groups
(those that gathered while the previous group was written): each request's row settled
(tokens, cost, outcome), then each answer kept in :class:`~evo_magic.ledger.answers.Answers`
under its request key. A kernel killed mid-run so loses only the answers in flight and the
group in hand (asked again on the next run). What a flush has not yet written stays queued,
so an interrupt in the middle of one loses nothing: the next flush writes it.

:class:`RunStore` is that store as a run sees it: answers of the bundled emulator
(``%deepseek offline``) are kept under keys of their own, so a run against DeepSeek never takes
a canned answer for a real one; a run on the emulator is served by both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..core.status import Outcome
from ..ledger.answers import Answers, Kept, StoredAnswer
from ..ledger.pricing import Price, PriceTable, billed_model, load_table
from ..ledger.store import Ledger, LedgerRow
from .scheduler import RowResult

FINISH_OUTCOMES: dict[str | None, Outcome] = {"length": "length", "content_filter": "content_filter",
                                              "insufficient_system_resource": "insufficient_system_resource"}


EMULATED = "emulator/"  # the prefix of the store's keys for answers of the bundled emulator


class RunStore:
    """The request-keyed answers a run reads and keeps (see the module docstring)."""

    def __init__(self, ledger: Ledger, offline: bool) -> None:
        self.answers = Answers(ledger)
        self.offline = offline

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredAnswer]:
        """The answers kept for any of ``keys``: DeepSeek's, and on the emulator its own too."""
        wanted = list(keys)
        found = self.answers.get_many(wanted)
        if self.offline:
            canned = self.answers.get_many(EMULATED + k for k in wanted if k not in found)
            found.update({k[len(EMULATED) :]: a for k, a in canned.items()})
        return found

    def put_many(self, kept: Iterable[Kept]) -> None:
        self.answers.put_many(k._replace(key=EMULATED + k.key) if self.offline else k for k in kept)


@dataclass(frozen=True)
class Where:
    """Who the run's ledger rows belong to."""

    notebook: str
    session: str
    model: str
    protocol: str
    run_id: str
    offline: bool = False
    cell: int | None = None
    prices: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorder:
    """Writes a run's requests and answers (see the module docstring)."""

    ledger: Ledger
    where: Where
    _started: dict[str, tuple[datetime, int]] = field(default_factory=dict)  # sent, not settled: when, row id
    _settled: list[tuple[RowResult, Decimal | None]] = field(default_factory=list)
    _table: PriceTable | None = None
    _prices: dict[tuple[str, int], Price | None] = field(default_factory=dict)

    def started(self, key: str) -> None:
        """The request ``key`` is about to be sent: its ``started`` row, now (any thread)."""
        at = datetime.now(timezone.utc)
        self._started[key] = (at, self.ledger.record(self._row(key, "started", at)))

    def price(self, result: RowResult) -> Decimal | None:
        """What ``result`` cost (what DeepSeek would charge, for the emulator too); None: unknown."""
        if result.usage is None:
            return None
        at = datetime.now(timezone.utc) - timedelta(seconds=result.seconds)
        model = billed_model(self.where.model, result.model)
        second = (model, int(at.timestamp()))  # prices change on whole seconds at most
        if second not in self._prices:
            if self._table is None:
                self._table = load_table(overrides=self.where.prices or None)
            self._prices[second] = self._table.price_for(model, at)
        found = self._prices[second]
        return None if found is None else found.cost(result.usage)

    def settled(self, result: RowResult, price: Decimal | None) -> None:
        """``result`` came back (written, and its answer kept when there is one, with the next flush)."""
        self._settled.append((result, price))

    def flush(self) -> None:
        """Write the answers that came back since the last flush: their rows, then the answers."""
        batch = list(self._settled)
        if not batch:
            return
        rows = [(self._settled_row(r, p), self._started.get(str(r.key), (None, None))[1]) for r, p in batch]
        ids = self.ledger.record_many(rows)
        kept = [
            Kept(str(r.key), r.snapshot, self.where.protocol, r.model or self.where.model, p, row_id)
            for (r, p), row_id in zip(batch, ids, strict=True)
            if r.ok and r.snapshot is not None
        ]
        RunStore(self.ledger, self.where.offline).put_many(kept)
        del self._settled[: len(batch)]
        for r, _ in batch:
            self._started.pop(str(r.key), None)

    def abandon(self) -> int:
        """The pass is over: each request sent whose answer never came (cut off by Stop, Ctrl-C,
        the budget or a 401) settles as ``interrupted`` — not ``started``, which would say it
        may still be answering or its kernel died. Its tokens and cost stay unknown. Returns
        how many."""
        self.flush()
        now = datetime.now(timezone.utc)
        rows = [(replace(self._row(key, "interrupted", at), elapsed=(now - at).total_seconds()), row_id)
                for key, (at, row_id) in self._started.items()]  # fmt: skip
        if rows:
            self.ledger.record_many(rows)
        self._started.clear()
        return len(rows)

    def _row(self, key: str, outcome: Outcome, at: datetime) -> LedgerRow:
        w = self.where
        return LedgerRow(
            notebook=w.notebook, session=w.session, model_requested=w.model, outcome=outcome, protocol=w.protocol,
            at=at, origin="map", cell=w.cell, offline=w.offline, request_key=key, run_id=w.run_id,
        )  # fmt: skip

    def _settled_row(self, result: RowResult, price: Decimal | None) -> LedgerRow:
        w, key, snap = self.where, str(result.key), result.snapshot
        started = self._started.get(key)
        at = started[0] if started else datetime.now(timezone.utc) - timedelta(seconds=result.seconds)
        return LedgerRow(
            notebook=w.notebook, session=w.session, model_requested=w.model, protocol=w.protocol, at=at,
            origin="map", cell=w.cell, offline=w.offline, request_key=key, run_id=w.run_id,
            outcome="error" if not result.ok else FINISH_OUTCOMES.get(result.finish, "ok"), usage=result.usage,
            cost=price, model_answered=result.model, elapsed=result.seconds,
            ttft=result.seconds if result.ok else None, error=None if result.ok else _error_kind(result),
            response_id=snap.id if snap else None,
        )  # fmt: skip


def _error_kind(result: RowResult) -> str:
    """The ledger's error column: the kind of failure (``HTTP 400``, ``ProtocolError``)."""
    return f"HTTP {result.status}" if result.status and result.status >= 400 else "RequestFailed"


__all__ = ["EMULATED", "Recorder", "RunStore", "Where"]
