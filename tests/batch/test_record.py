"""A run's ledger rows and kept answers: each request's row is written before it is sent, each
answer settles it and is kept under its request key, and an interrupt in the middle of a flush
loses nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from evo_magic.batch.record import Recorder, Where
from evo_magic.batch.scheduler import RowResult
from evo_magic.core.events import Finished, ResponseStarted, TextDelta, UsageReported
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.ledger.answers import Answers
from evo_magic.ledger.store import Ledger

WHERE = Where("/work/nb.ipynb", "default", "deepseek-v4-flash", "openai", "run-1")


def answered(key: str) -> RowResult:
    usage = Usage(10, 0, 10, 2)
    snap = accumulate([ResponseStarted("r1", "deepseek-v4-flash"), TextDelta("positive"), UsageReported(usage),
                       Finished("stop")])  # fmt: skip
    return RowResult(key, "positive", snap.usage, None, 200, "deepseek-v4-flash", "stop", 1, 0.2, snap)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        yield led


def test_a_request_is_in_the_ledger_as_started_before_it_is_sent_and_settled_once(ledger: Ledger) -> None:
    rec = Recorder(ledger, WHERE)
    rec.started("k1")
    (row,) = ledger.rows()
    assert (row.outcome, row.request_key, row.run_id, row.origin, row.usage) == ("started", "k1", "run-1", "map", None)
    result = answered("k1")
    rec.settled(result, rec.price(result))
    rec.flush()
    (row,) = ledger.rows()  # the same row, settled: not a second one
    assert row.outcome == "ok" and row.usage == Usage(10, 0, 10, 2) and row.cost is not None and row.cost > 0
    kept = Answers(ledger).get("k1")
    assert kept is not None and kept.snapshot().text == "positive" and kept.request_id is not None


def test_the_price_is_read_once_a_second_and_unknown_without_usage(ledger: Ledger) -> None:
    rec = Recorder(ledger, WHERE)
    prices = [rec.price(answered(f"k{i}")) for i in range(50)]
    assert len(set(prices)) == 1 and isinstance(prices[0], Decimal) and len(rec._prices) <= 2
    assert rec.price(RowResult("k", None, error="HTTP 500")) is None


def test_an_interrupt_in_the_middle_of_a_flush_loses_nothing(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(ledger, WHERE)
    for key in ("a", "b"):
        rec.started(key)
        rec.settled(answered(key), Decimal("0.01"))
    real = Answers.put_many
    calls: list[int] = []

    def interrupted_once(self: Answers, answers) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(self, answers)

    monkeypatch.setattr(Answers, "put_many", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        rec.flush()
    rec.flush()
    assert sorted(Answers(ledger).get_many(["a", "b"])) == ["a", "b"]
    assert sorted((r.request_key, r.outcome) for r in ledger.rows()) == [("a", "ok"), ("b", "ok")]
