"""Tests of ``evo_magic.ledger.accounting``."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest

import evo_magic
from evo_magic.ledger.accounting import Accounting
from evo_magic.ledger.budget import (
    BudgetExceeded,
)
from evo_magic.ledger.store import (
    LedgerRow,
)
from evo_magic.runtime import root
from evo_magic.sessions.host import RequestSettled

from ..conftest import use_emulator

D = Decimal


def test_an_unusable_ledger_is_said_once_and_a_budget_it_cannot_check_refuses(
    odd_key_online: Accounting, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[Any] = []
    odd_key_online.close()
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "afile" / "sub"))  # under a regular file
    odd_key_online.show = shown.append
    logged: list[str] = []
    monkeypatch.setattr("evo_magic.runtime.log.exception", lambda *a, **k: logged.append(str(a)))
    assert evo_magic.session().ask("What is 2+2?").ok  # the answer still comes
    assert evo_magic.session().ask("And 3+3?").ok
    assert len(shown) == 1 and "Usage is not being recorded" in shown[0].text and logged == []
    odd_key_online.budget = Decimal("1")
    with pytest.raises(BudgetExceeded) as caught:
        evo_magic.session().ask("One more?")
    assert "spend cannot be read" in caught.value.one_line() and "budget off" in caught.value.one_line()


def test_the_budget_ignores_emulator_answers(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody is billed for an answer of the bundled emulator: it neither spends the budget nor
    is refused by it; billed requests are checked as before."""
    import evo_magic

    from ..conftest import use_offline

    use_offline(monkeypatch, emulator, "/work/budget.ipynb")  # %deepseek offline
    acc = root().accounting
    shown: list[Any] = []
    acc.show = shown.append
    try:
        acc.budget = D("0")  # refuses every billed request
        replies = [evo_magic.session().ask(q) for q in ("What is 2+2?", "And 3+3?", "And 4+4?")]
        would = sum((r.cost or D(0) for r in replies), D(0))
        assert all(r.offline for r in replies) and would > D("0.0001")
        assert acc.ledger.spend(acc.notebook) == (D(0), 0) and shown == []  # no warning either

        use_emulator(monkeypatch, emulator.url, "/work/budget.ipynb")  # back online
        with pytest.raises(BudgetExceeded, match=r"\$0\.00 of \$0\.00 spent"):
            evo_magic.session("billed").ask("What is 2+2?")
        acc.budget = D("0.0001")  # less than the emulator's answers would have cost
        paid = evo_magic.session("billed").ask("What is 2+2?")  # spend is $0.00, so it may start
        assert paid.cost is not None and acc.ledger.spend(acc.notebook) == (paid.cost, 0)
    finally:
        acc.close()


def test_every_request_is_started_then_settled_even_when_a_bug_breaks_it(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evo_magic
    from evo_magic.runtime import root
    use_emulator(monkeypatch, emulator.url, "/work/started.ipynb")
    acc = root().accounting
    outcomes: list[list[str]] = []
    def seen() -> None:
        outcomes.append([r.outcome for r in acc.ledger.rows(acc.notebook)])

    started = acc.start
    monkeypatch.setattr(acc, "start", lambda session, reply: [started(session, reply), seen()][0])
    root().listeners.append(lambda event: seen() if isinstance(event, RequestSettled) else None)
    try:
        evo_magic.session().ask("What is 2+2?")
        assert outcomes == [["started"], ["ok"]]  # one row: written before the request, then settled

        class Broken:
            def update(self, snap: Any) -> None:
                raise RuntimeError("a bug in a view")

            def finish(self, snap: Any, footer: Any) -> None: ...

        with pytest.raises(RuntimeError, match="a bug in a view"):
            evo_magic.session().ask("What is 2+2?", view=Broken())
        rows = acc.ledger.rows(acc.notebook)
        assert [r.outcome for r in rows] == ["ok", "error"] and rows[-1].usage is None
    finally:
        acc.close()


def test_an_emulator_answer_is_recorded_as_such_and_billed_to_nobody(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evo_magic
    from evo_magic.display.render import footer_text
    from evo_magic.ledger.pricing import billed_model, cost, format_money, load_table
    from evo_magic.ledger.records import restored_turn
    from evo_magic.runtime import root

    from ..conftest import use_offline

    use_offline(monkeypatch, emulator, "/work/offline.ipynb")  # %deepseek offline, no key
    acc = root().accounting
    started: list[LedgerRow] = []
    start = acc.start
    monkeypatch.setattr(acc, "start", lambda session, reply: [start(session, reply), started.extend(acc.ledger.rows())][0])
    try:
        reply = evo_magic.session().ask("What is 2+2?")
        assert reply.offline and reply.priced and reply.cost is not None and reply.cost > 0
        assert [r.offline for r in started] == [True]  # from the started row on
        (recorded,) = acc.ledger.rows(acc.notebook)
        assert recorded.offline and recorded.usage == reply.usage and recorded.outcome == "ok"
        # priced exactly as DeepSeek would bill it, for the footer and the view
        assert recorded.cost == reply.cost == cost(reply.usage, billed_model(reply.requested_model, reply.model),
                                                   recorded.at, load_table())
        assert acc.ledger.spend(acc.notebook) == (Decimal(0), 0)
        shown = f"{format_money(reply.cost)} if billed (emulator)"
        assert footer_text(reply.footer).endswith(f" · {shown}") and html.escape(shown) in reply._repr_html_()  # "<$0.0001" off-peak
        ((kept, record),) = acc.ledger.turns(acc.notebook)
        assert footer_text(restored_turn(kept, record).reply.footer).endswith(shown)  # after a restore too

        use_emulator(monkeypatch, emulator.url, "/work/offline.ipynb")  # back online: billed again
        paid = evo_magic.session("billed").ask("And 3+3?")  # (the emulator keeps reasoning per key)
        assert not paid.offline and paid.cost is not None
        assert footer_text(paid.footer).endswith(f" · {format_money(paid.cost)}")
        assert [r.offline for r in acc.ledger.rows(acc.notebook)] == [True, False]
        assert acc.ledger.spend(acc.notebook) == (paid.cost, 0)
    finally:
        acc.close()
