"""Wires the ledger, the price table and the budget into every request (thin IO shell).

A registry listener records one ledger row per request, whatever its outcome, and prices it
(so the footer shows the cost; for the bundled emulator, what DeepSeek would charge, marked
``offline`` and never counted as spend); a registry guard refuses a request that would start
past the notebook's budget and warns from 80 % (not for the emulator, which bills nothing).
The ledger is opened on first use, so ``%load_ext`` imports no sqlite3.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..display.notices import Notice
from .pricing import billed_model, cost, estimate_tokens, input_cost, load_table
from .totals import STARTED

log = logging.getLogger(__name__)


class Accounting:
    """Per-kernel accounting: the notebook's name, its budget and the ledger."""

    def __init__(self, user_ns: dict[str, Any] | None = None, show: Any = None):
        self._user_ns = user_ns
        self._show = show
        self.budget: Decimal | None = None
        self.prices: dict[str, Any] = {}
        self._ledger: Any = None
        self._notebook: str | None = None
        self._last: dict[str, int] = {}
        self._unrecorded = False  # a ledger write failed (said once)

    @property
    def notebook(self) -> str:
        if self._notebook is None:
            from .notebook_id import notebook_name

            self._notebook = notebook_name(self._user_ns)
        return self._notebook

    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from .store import Ledger

            self._ledger = Ledger()
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _notice(self, text: str, session: Any, kind: str = "warning", title: str | None = "Budget") -> None:
        if threading.current_thread() is not threading.main_thread():
            # Asked from the chat panel's thread: a display would land in whichever cell ran
            # last, so the panels on the session show it in their footer instead.
            from ..sessions.registry import registry

            registry().notify("notice", session, text)
            return
        if self._show is not None:
            self._show(Notice(text, kind=kind, title=title if kind == "warning" else None))

    # --- registry hooks -----------------------------------------------------------------
    def guard(self, session: Any, opts: Any, body: dict[str, Any]) -> None:
        """Before a request: large-prompt cost notice, budget warning / refusal (none for the
        bundled emulator, which bills nothing)."""
        from ..config import offline_endpoint
        from .budget import BudgetExceeded, check, large_prompt_notice
        from .notebook_id import short_name
        from .store import LedgerError

        if offline_endpoint() is not None:  # %deepseek offline: the emulator bills nobody
            return
        now = datetime.now(timezone.utc)
        table = load_table(overrides=self.prices or None)
        tokens = estimate_tokens(json.dumps(body.get("messages") or body, ensure_ascii=False))
        estimate = input_cost(tokens, opts.model, now, table)
        big = large_prompt_notice(tokens, estimate, opts.model)
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

    def on_event(self, kind: str, session: Any, reply: Any) -> None:
        from .store import LedgerError

        try:
            self._record(kind, session, reply)
        except LedgerError as exc:  # the answer goes on; say once (not a traceback per request)
            log.debug("ledger write failed", exc_info=True)
            if not self._unrecorded:
                self._unrecorded = True
                self._notice(f"Usage is not being recorded: {exc.one_line()}", session, title="Ledger")

    def _record(self, kind: str, session: Any, reply: Any) -> None:
        from .records import row_from_reply, turn_from_reply

        if kind == "start":
            # A "started" row, replaced when the request settles: a kernel killed or restarted
            # mid-answer (billed, but never settled) leaves it, counted as of unknown cost.
            row = row_from_reply(reply, notebook=self.notebook, cost=None, at=datetime.now(timezone.utc))
            reply.ledger_request = self.ledger.record(replace(row, outcome=STARTED, origin=_origin(reply)))
        elif kind == "request":
            at = datetime.now(timezone.utc) - timedelta(seconds=reply.timing.elapsed)
            table = load_table(overrides=self.prices or None)
            reply.priced = True
            reply.cost = cost(reply.usage, billed_model(reply.requested_model, reply.snapshot.model), at, table)
            row = row_from_reply(reply, notebook=self.notebook, cost=reply.cost, at=at, origin=_origin(reply))
            self._last[session.name] = self.ledger.record(row, replace=reply.ledger_request)
        elif kind in ("turn", "pick") and reply.status in ("ok", "length") and session.name in self._last:
            turn = next((t for t in session.turns if t.reply is reply), None)
            if turn is not None:
                turn.ledger_id = self._last[session.name]
                record = turn_from_reply(reply, turn.prompt, turn.messages, turn.cell_id)
                self.ledger.record_turn(turn.ledger_id, record)
        elif kind == "drop" and getattr(reply, "ledger_id", None) is not None:
            self.ledger.drop_turns([reply.ledger_id])
        elif kind == "reset":
            self.ledger.drop_turns(notebook=self.notebook, session=session.name)

    # --- restore ------------------------------------------------------------------------
    def restore(self, session: Any) -> tuple[list[Any], list[Any]]:
        """Rebuild ``session``'s conversation from this notebook's ledger (after a kernel
        restart): the turns no reset, undo or re-run dropped, in the order they were asked.
        Returns (added, superseded); superseded turns (their cell was re-run here) are dropped."""
        from .records import restored_turn

        stored = [restored_turn(row, record) for row, record in self.ledger.turns(self.notebook, session.name)]
        added, superseded = session.restore(stored)
        if superseded:
            self.ledger.drop_turns([t.ledger_id for t in superseded])
        return added, superseded

    # --- views --------------------------------------------------------------------------
    def rows(self, notebook: str | None = None, *, all_notebooks: bool = False) -> Any:
        """:class:`~evo_magic.ledger.report.UsageRows` of this notebook (or ``notebook``, or all)."""
        from .notebook_id import short_name
        from .report import ALL_BY, NOTEBOOK_BY, UsageRecord, UsageRows

        name = None if all_notebooks else (notebook or self.notebook)
        records = (UsageRecord.from_ledger(r) for r in self.ledger.rows(name))
        if name is None:
            return UsageRows(records, title="Usage of every notebook", by=ALL_BY)
        return UsageRows(records, title=f"Usage of {short_name(name)}", by=NOTEBOOK_BY)

    def usage(self, all_notebooks: bool = False) -> Any:
        """The :class:`~evo_magic.ledger.report.UsageView` of ``%deepseek usage [--all]``."""
        return self.rows(all_notebooks=all_notebooks).view()


def _origin(reply: Any) -> str:
    return "panel" if reply.cell == "panel" else "api" if reply.cell is None else "cell"


_current: Accounting | None = None


def install(user_ns: dict[str, Any] | None, show: Any) -> Accounting:
    """Create the kernel's accounting and hook it into the session registry (once)."""
    global _current
    from ..sessions.registry import registry

    if _current is None:
        _current = Accounting(user_ns, show)
    if user_ns is not None:
        _current._user_ns, _current._show = user_ns, show
    if _current.on_event not in registry().listeners:
        registry().listeners.append(_current.on_event)
        registry().guards.append(_current.guard)
    return _current


def current() -> Accounting:
    """The kernel's accounting, hooked into the registry in use (created without ``%load_ext``:
    the shell's namespace names the notebook in VS Code, and notices are not displayed)."""
    from ..sessions.registry import registry

    if _current is not None and _current.on_event in registry().listeners:
        return _current
    from IPython import get_ipython

    shell = get_ipython()
    return install(None if shell is None else shell.user_ns, None)
