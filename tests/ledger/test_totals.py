"""Tests of ``evo_magic.ledger.totals``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from evo_magic.ledger.report import ALL_BY, UsageRecord
from evo_magic.ledger.store import (
    Ledger,
)
from evo_magic.ledger.totals import group_totals, totals_table

from .helpers import AT, TURN2, row, sample, totals


# --- totals --------------------------------------------------------------------------------
def test_totals_group_by_any_column(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        ledger.record(row(at=AT + timedelta(days=1), usage=TURN2, cost=Decimal("1E-7")))  # another day, tiny cost
        recs = [UsageRecord.from_ledger(r) for r in ledger.rows()]
    by_day = {t.key: (t.requests, t.cost) for t in group_totals(recs, ("day",))}
    # 0.0000410536 + 0.00014462 + 0.0000307888 + 0.3388 + 0.00014462 on the first day
    assert by_day == {("2026-06-10",): (8, Decimal("0.3390164624") + Decimal("0.00014462")),
                      ("2026-06-11",): (1, Decimal("1E-7"))}
    by_origin = {t.key: t.requests for t in group_totals(recs, ("origin", "protocol", "model_requested"))}
    assert by_origin[("panel", "openai", "deepseek-v4-pro")] == 1 and sum(by_origin.values()) == 9
    by_notebook = group_totals(recs, ALL_BY)
    assert [t.key[0] for t in by_notebook] == ["analysis.ipynb"] * 3 + ["other.ipynb"]
    assert sum((t.cost for t in by_notebook), Decimal(0)) == sum((r.cost or 0 for r in recs), Decimal(0))
    (one,) = group_totals(recs, ())
    assert (one.requests, one.priced, one.unknown_cost, one.no_usage) == (9, 6, 2, 2)
    assert group_totals([], ()) == []


def test_totals_by_session_and_model(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        sums = totals(ledger, "analysis.ipynb")
    flash = sums[0]
    assert flash.key == ("default", "deepseek-v4-flash")  # deepseek-chat answered by v4-flash
    # 0.0000410536 + 0.00014462 + 0.0000307888 = 0.0002164624, exactly
    assert flash.cost == Decimal("0.0002164624")
    assert (flash.requests, flash.no_usage, flash.unknown_cost) == (4, 1, 1)
    assert (flash.prompt_tokens, flash.cache_hit_tokens, flash.completion_tokens) == (2414, 1408, 256)
    assert flash.reasoning_tokens == 111
    text = repr(totals_table(sums, title="Usage of analysis.ipynb"))
    assert text == (
        "Usage of analysis.ipynb\n"
        "session  model              requests             input tokens          output tokens              cost\n"
        "-------  -----------------  -------------------  --------------------  -------------------------  -------------------\n"
        "default  deepseek-v4-flash  4 (1 without usage)  2,414 (58% cached)    256 (111 reasoning)        $0.0002 + 1 unknown\n"
        "review   deepseek-v4-pro    2 (1 without usage)  300,000 (67% cached)  50,000 (20,000 reasoning)  $0.3388\n"
        "review   mystery            1                    563 (91% cached)      116 (60 reasoning)         unknown"
    )
