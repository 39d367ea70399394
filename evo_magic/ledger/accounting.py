"""The ledger, the price table and the budget around every request (thin IO shell).

:class:`Accounting` is the ledger half of the kernel's host (:class:`~evo_magic.runtime.Runtime`
delegates to it): before a request it warns about a large prompt and applies the notebook's
budget (:meth:`check`; not for the bundled emulator, which bills nobody); it writes a row
``started`` before a byte is billed (:meth:`start`) and settles it with the request's price
(:meth:`settle`, which returns the :class:`~evo_magic.sessions.host.Charge`); and it keeps what
``%deepseek restore`` needs from the session events (:meth:`on_event`). It also holds the
answer cache's mode and answers the session's cache hooks (:meth:`cache_mode`, :meth:`cached`,
:meth:`keep`; :mod:`~evo_magic.ledger.cache`): an answer from the cache is one row, outcome
``cached``, cost 0, with what it saved. The ledger is opened on first use, so ``%load_ext``
imports no sqlite3.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.events import assert_never
from ..core.status import Origin
from ..display.notices import Kind, Notice
from ..sessions.cache import CacheMode, Hit, effective_mode
from ..sessions.host import (
    AnswerEnded,
    Charge,
    NoticeRaised,
    RequestSettled,
    SessionCreated,
    SessionEvent,
    SessionRef,
    SessionReset,
    TurnAdded,
    TurnDropped,
    TurnPicked,
    TurnsRestored,
)
from .pricing import billed_model, estimate_tokens, input_cost, load_table, price_for
from .totals import STARTED

if TYPE_CHECKING:
    from ..sessions.reply import Reply, Turn
    from ..sessions.session import Session
    from .report import UsageRows, UsageView
    from .store import Ledger

log = logging.getLogger(__name__)
T = TypeVar("T")


class Accounting:
    """Per-kernel accounting: the notebook's name, its budget, the price overrides and the
    ledger. ``show`` displays a notice in the cell that runs (None: not shown); ``emit`` hands
    a notice raised off the main thread to whoever asked there (the panel)."""

    def __init__(
        self,
        user_ns: Mapping[str, Any] | None = None,
        show: Callable[[Notice], object] | None = None,
        emit: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        self.user_ns = user_ns
        self.show = show
        self._emit = emit
        self.budget: Decimal | None = None
        self.prices: dict[str, Any] = {}  # %config DeepSeekMagics.prices: the highest price layer
        self.cache: CacheMode | None = None  # %deepseek cache (None: EVO_MAGIC_CACHE, else off)
        self._ledger: Ledger | None = None
        self._notebook: str | None = None
        self._unrecorded = False  # a ledger write failed (said once)

    @property
    def notebook(self) -> str:
        if self._notebook is None:
            from .notebook_id import notebook_name

            self._notebook = notebook_name(self.user_ns)
        return self._notebook

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from .store import Ledger  # sqlite3: imported with the first request

            self._ledger = Ledger()
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _notice(self, text: str, session: SessionRef, kind: Kind = "warning", title: str | None = "Budget") -> None:
        if threading.current_thread() is not threading.main_thread():
            # Asked from the chat panel's thread: a display would land in whichever cell ran
            # last, so the panels on the session show it in their footer instead.
            if self._emit is not None:
                self._emit(NoticeRaised(session, text))
            return
        if self.show is not None:
            self.show(Notice(text, kind=kind, title=title if kind == "warning" else None))

    # --- the host's hooks ---------------------------------------------------------------
    def check(self, session: SessionRef, reply: Reply, body: Mapping[str, Any]) -> None:
        """Before a request: large-prompt cost notice, budget warning / refusal (none for the
        bundled emulator, which bills nothing)."""
        from .budget import BudgetExceeded, check, large_prompt_notice
        from .notebook_id import short_name
        from .store import LedgerError

        if reply.offline:
            return
        now = datetime.now(timezone.utc)
        tokens = estimate_tokens(json.dumps(body.get("messages") or body, ensure_ascii=False))
        estimate = input_cost(tokens, reply.requested_model, now, self._table())
        big = large_prompt_notice(tokens, estimate, reply.requested_model)
        if big:
            self._notice(big, session)
        if self.budget is None:
            return
        try:
            spent = self.ledger.spend(self.notebook)
        except LedgerError as exc:  # a cap that cannot be checked must not be passed silently
            raise BudgetExceeded(
                f"Budget: this notebook's spend cannot be read ({exc.one_line()}), so the request is "
                "refused; fix EVO_MAGIC_HOME or lift the cap with %deepseek budget off"
            ) from None
        verdict = check(spent.cost, self.budget, estimate, notebook=short_name(self.notebook), unpriced=spent.unknown)
        verdict.raise_if_refused()
        if verdict.state == "warn":
            self._notice(verdict.message, session, title=None)  # the message starts "Budget for …"

    def start(self, session: SessionRef, reply: Reply) -> int | None:
        """A "started" row, replaced when the request settles: a kernel killed or restarted
        mid-answer (billed, but never settled) leaves it, counted as of unknown cost."""
        from .records import row_from_reply

        row = row_from_reply(reply, notebook=self.notebook, cost=None, at=datetime.now(timezone.utc))
        return self._write(session, lambda: self.ledger.record(replace(row, outcome=STARTED, origin=origin(reply))))

    def settle(self, session: SessionRef, reply: Reply) -> Charge:
        """Price the settled request (what DeepSeek would charge, for the emulator too) and
        record it in place of its started row. An answer from the cache costs 0: its row
        (the only one, nothing was started) records what asking again would have cost as saved."""
        from .records import row_from_reply

        at = datetime.now(timezone.utc) - timedelta(seconds=reply.timing.elapsed)
        price = price_for(billed_model(reply.requested_model, reply.snapshot.model), at, self._table())
        value = None if reply.usage is None or price is None else price.cost(reply.usage)
        since = None if price is None else price.effective_from
        if reply.cached:
            free = replace(row_from_reply(reply, notebook=self.notebook, cost=Decimal(0), at=at, origin=origin(reply)),
                           saved=value)  # fmt: skip
            return Charge(Decimal(0), True, value, since, self._write(session, lambda: self.ledger.record(free)))
        row = row_from_reply(reply, notebook=self.notebook, cost=value, at=at, origin=origin(reply))
        self._write(session, lambda: self.ledger.record(row, replace=reply.ledger_request))
        return Charge(value, True, None, since)

    # --- the answer cache ---------------------------------------------------------------
    def cache_mode(self, override: str | None) -> CacheMode:
        """The mode for one question: the call's, this kernel's, ``EVO_MAGIC_CACHE``, off."""
        return effective_mode(self.cache, override)

    def cached(self, session: SessionRef, reply: Reply) -> Hit | None:
        """The kept answer of the reply's request; a ledger that cannot be read is a miss (said once)."""
        from .cache import lookup

        key = reply.request_key
        return None if key is None else self._write(session, lambda: lookup(self.ledger, key))

    def keep(self, session: SessionRef, reply: Reply) -> None:
        """Keep the complete answer by its request key."""
        from .cache import keep

        self._write(session, lambda: keep(self.ledger, reply))

    def on_event(self, event: SessionEvent) -> None:
        """Keep the ledger's turns as the conversation changes."""
        match event:
            case TurnAdded(session=session, turn=turn, replaced=replaced):
                if replaced is not None and replaced.ledger_id is not None:
                    self._write(session, lambda: self.ledger.drop_turns([replaced.ledger_id or 0]))
                self._record_turn(session, turn)
            case TurnPicked(session=session, turn=turn):
                self._record_turn(session, turn)
            case TurnDropped(session=session, turn=turn):
                if turn.ledger_id is not None:
                    self._write(session, lambda: self.ledger.drop_turns([turn.ledger_id or 0]))
            case SessionReset(session=session):
                self._write(session, lambda: self.ledger.drop_turns(notebook=self.notebook, session=session.name))
            case SessionCreated() | RequestSettled() | AnswerEnded() | TurnsRestored() | NoticeRaised():
                pass
            case _:
                assert_never(event)

    def _record_turn(self, session: SessionRef, turn: Turn) -> None:
        from .records import turn_from_reply

        if turn.ledger_id is None or turn.reply.status not in ("ok", "length"):
            return
        ledger_id = turn.ledger_id
        record = turn_from_reply(turn.reply, turn.prompt, turn.messages, turn.cell_id)
        self._write(session, lambda: self.ledger.record_turn(ledger_id, record))

    def _write(self, session: SessionRef, write: Callable[[], T]) -> T | None:
        """Run a ledger write; a failing ledger is said once, and the answer goes on."""
        from .store import LedgerError

        try:
            return write()
        except LedgerError as exc:
            log.debug("ledger write failed", exc_info=True)
            if not self._unrecorded:
                self._unrecorded = True
                self._notice(f"Usage is not being recorded: {exc.one_line()}", session, title="Ledger")
            return None

    def _table(self) -> Any:
        return load_table(overrides=self.prices or None)

    # --- restore ------------------------------------------------------------------------
    def restore(self, session: Session) -> tuple[list[Turn], list[Turn]]:
        """Rebuild ``session``'s conversation from this notebook's ledger (after a kernel
        restart): the turns no reset, undo or re-run dropped, in the order they were asked (a
        turn whose final request is one already in memory, replayed from the cache, is that turn).
        Returns (added, superseded); superseded turns (their cell was re-run here) are dropped."""
        from .records import restored_turn

        held = {t.reply.request_key for t in session.turns if t.reply.request_key}  # a replayed turn is the same turn
        stored = []
        for row, record in self.ledger.turns(self.notebook, session.name):
            if row.request_key is None or row.request_key not in held:
                stored.append(restored_turn(row, record))
                held.add(row.request_key or "")
        added, superseded = session.restore(stored)
        if superseded:
            self.ledger.drop_turns([t.ledger_id for t in superseded if t.ledger_id is not None])
        return added, superseded

    # --- views --------------------------------------------------------------------------
    def rows(self, notebook: str | None = None, *, all_notebooks: bool = False) -> UsageRows:
        """:class:`~evo_magic.ledger.report.UsageRows` of this notebook (or ``notebook``, or all)."""
        from .notebook_id import short_name
        from .report import ALL_BY, NOTEBOOK_BY, UsageRecord, UsageRows
        from .runs import Runs

        name = None if all_notebooks else (notebook or self.notebook)
        records = (UsageRecord.from_ledger(r) for r in self.ledger.rows(name))
        runs = Runs(self.ledger).of(name)
        if name is None:
            return UsageRows(records, title="Usage of every notebook", by=ALL_BY, runs=runs)
        return UsageRows(records, title=f"Usage of {short_name(name)}", by=NOTEBOOK_BY, runs=runs)

    def usage(self, all_notebooks: bool = False) -> UsageView:
        """The :class:`~evo_magic.ledger.report.UsageView` of ``%deepseek usage [--all]``."""
        return self.rows(all_notebooks=all_notebooks).view()


def origin(reply: Reply) -> Origin:
    """Who asked: the chat panel, a cell, or Python code (no cell)."""
    return "panel" if reply.cell == "panel" else "api" if reply.cell is None else "cell"


__all__ = ["Accounting", "origin"]
