"""Every request of a run in the ledger, and every answer in the request-keyed store (IO).

A run sends hundreds of requests a second, so the :class:`Recorder` writes in groups: the
run's loop hands it what happened since its last turn (requests sent, answers back) and
:meth:`Recorder.flush` writes them in two transactions, about ten times a second — the
requests as ledger rows (origin ``map``, the run's id, each request's key; a request is
``started`` when it is sent and settled when its answer is back, as a cell's is), then each
finished answer in :class:`~evo_magic.ledger.answers.Answers` under its request key. A kernel
killed mid-run loses at most the last tenth of a second of answers (sent again on the next
run); a request it was waiting for stays ``started`` in the ledger, billed and unknown, as a
cell's does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..core.status import Outcome
from ..ledger.answers import Answers, Kept
from ..ledger.pricing import billed_model, cost, load_table
from ..ledger.store import Ledger, LedgerRow
from .scheduler import RowResult

FINISH_OUTCOMES: dict[str | None, Outcome] = {"length": "length", "content_filter": "content_filter",
                                              "insufficient_system_resource": "insufficient_system_resource"}


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
    """Groups a run's ledger writes (see the module docstring)."""

    ledger: Ledger
    where: Where
    _started: dict[str, tuple[datetime, int | None]] = field(default_factory=dict)
    _sent: list[str] = field(default_factory=list)
    _settled: list[tuple[RowResult, Decimal | None]] = field(default_factory=list)
    _table: Any = None

    def sent(self, key: str) -> None:
        """The request ``key`` went out (its ``started`` row is written with the next flush)."""
        self._started[key] = (datetime.now(timezone.utc), None)
        self._sent.append(key)

    def price(self, result: RowResult) -> Decimal | None:
        """What ``result`` cost (what DeepSeek would charge, for the emulator too); None: unknown."""
        if self._table is None:
            self._table = load_table(overrides=self.where.prices or None)
        at = datetime.now(timezone.utc) - timedelta(seconds=result.seconds)
        return cost(result.usage, billed_model(self.where.model, result.model), at, self._table)

    def settled(self, result: RowResult, price: Decimal | None) -> None:
        """``result`` came back (written, and its answer kept when there is one, with the next flush)."""
        self._settled.append((result, price))

    def flush(self) -> None:
        """Write what happened since the last flush: the started rows, then the settled ones and
        their answers."""
        settled, self._settled = self._settled, []
        done = {str(r.key) for r, _ in settled}
        fresh = [k for k in self._sent if k not in done]  # sent and answered since: one row, not two
        self._sent = []
        if fresh:
            rows: list[tuple[LedgerRow, int | None]] = [(self._row(k, "started"), None) for k in fresh]
            for k, row_id in zip(fresh, self.ledger.record_many(rows), strict=True):
                self._started[k] = (self._started[k][0], row_id)
        if not settled:
            return
        ids = self.ledger.record_many(
            [(self._settled_row(r, p), self._started.pop(str(r.key), (None, None))[1]) for r, p in settled]
        )
        kept = [
            Kept(str(r.key), r.snapshot, self.where.protocol, r.model or self.where.model, p, row_id)
            for (r, p), row_id in zip(settled, ids, strict=True)
            if r.ok and r.snapshot is not None
        ]
        Answers(self.ledger).put_many(kept)

    def _row(self, key: str, outcome: Outcome) -> LedgerRow:
        w = self.where
        return LedgerRow(
            notebook=w.notebook, session=w.session, model_requested=w.model, outcome=outcome, protocol=w.protocol,
            at=self._started.get(key, (datetime.now(timezone.utc), None))[0], origin="map", cell=w.cell,
            offline=w.offline, request_key=key, run_id=w.run_id,
        )  # fmt: skip

    def _settled_row(self, result: RowResult, price: Decimal | None) -> LedgerRow:
        outcome: Outcome = "error" if not result.ok else FINISH_OUTCOMES.get(result.finish, "ok")
        started = self._started.get(str(result.key))
        at = started[0] if started else datetime.now(timezone.utc) - timedelta(seconds=result.seconds)
        snap = result.snapshot
        return replace(
            self._row(str(result.key), outcome), at=at, usage=result.usage, cost=price, model_answered=result.model,
            elapsed=result.seconds, ttft=result.seconds if result.ok else None,
            error=None if result.ok else _error_kind(result), response_id=snap.id if snap else None,
        )  # fmt: skip


def _error_kind(result: RowResult) -> str:
    """The ledger's error column: the kind of failure (``HTTP 400``, ``ProtocolError``)."""
    return f"HTTP {result.status}" if result.status and result.status >= 400 else "RequestFailed"


__all__ = ["Recorder", "Where"]
