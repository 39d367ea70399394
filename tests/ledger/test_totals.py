"""Tests of ``evo_magic.ledger.totals``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evo_magic.ledger.report import ALL_BY, UsageRecord
from evo_magic.ledger.store import (
    Ledger,
)
from evo_magic.ledger.totals import GROUPS, STARTED, cost_unknown, group_key, group_totals, totals_table

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


# --- the rules, directly, on plain request records -------------------------------------------
def request(**changes: Any) -> SimpleNamespace:
    """A request as group_totals reads it: a priced, billed, answered deepseek-v4-flash cell."""
    base = {
        "time": datetime(2026, 6, 10, 23, 30, tzinfo=timezone.utc), "notebook": "n.ipynb", "session": "default",
        "model_requested": "deepseek-v4-flash", "model_answered": "deepseek-v4-flash", "protocol": "openai",
        "outcome": "ok", "origin": "cell", "prompt_tokens": 100, "cache_hit_tokens": 64, "cache_miss_tokens": 36,
        "completion_tokens": 20, "reasoning_tokens": 5, "cost": Decimal("0.0001"), "ttft": 0.2, "offline": False,
    }  # fmt: skip
    return SimpleNamespace(**{**base, **changes})


# (the request, whether its cost is unknown): only a request that failed before any token is free
COST_UNKNOWN = [
    ({}, False),
    ({"cost": None}, True),  # answered, unpriced model
    ({"cost": None, "outcome": "interrupted", "prompt_tokens": None}, True),  # may have been billed
    ({"cost": None, "outcome": "error", "prompt_tokens": None, "ttft": None}, False),  # failed before any token
    ({"cost": None, "outcome": "error", "prompt_tokens": None, "ttft": 0.4}, True),  # failed mid-stream
    ({"cost": None, "outcome": "error", "prompt_tokens": 10, "ttft": None}, True),  # usage says tokens
    ({"cost": None, "outcome": STARTED, "prompt_tokens": None, "ttft": None}, True),  # never settled
]


@pytest.mark.parametrize("changes,unknown", COST_UNKNOWN)
def test_cost_unknown(changes: dict[str, Any], unknown: bool) -> None:
    assert cost_unknown(request(**changes)) is unknown


# (the request, the column, its group value)
GROUP_KEYS = [
    ({}, "model", "deepseek-v4-flash"),
    ({"model_requested": "deepseek-chat"}, "model", "deepseek-v4-flash"),  # the model that answered
    ({"model_answered": None, "model_requested": "deepseek-v4-pro"}, "model", "deepseek-v4-pro"),  # none answered
    ({"offline": True}, "model", "deepseek-v4-flash (emulator)"),
    ({"model_requested": "deepseek-chat"}, "model_requested", "deepseek-chat"),
    ({}, "day", "2026-06-10"),
    ({"time": datetime(2026, 6, 11, 1, 30, tzinfo=timezone(timedelta(hours=8)))}, "day", "2026-06-10"),  # UTC date
    ({"time": datetime(2026, 6, 11, 1, 30)}, "day", "2026-06-11"),  # naive: already UTC
    ({"origin": "panel"}, "origin", "panel"),
    ({"protocol": "anthropic"}, "protocol", "anthropic"),
    ({}, "notebook", "n.ipynb"),
    ({"session": "review"}, "session", "review"),
    ({"outcome": "interrupted"}, "outcome", "interrupted"),
]


@pytest.mark.parametrize("changes,column,key", GROUP_KEYS)
def test_group_key(changes: dict[str, Any], column: str, key: str) -> None:
    assert group_key(request(**changes), column) == key


def test_every_group_column_has_a_key_and_others_are_refused() -> None:
    assert all(isinstance(group_key(request(), column), str) for column in GROUPS)
    with pytest.raises(ValueError, match="cannot group by cost; choose from notebook, session"):
        group_key(request(), "cost")


# (the requests of one group, the sums that matter, the cost as shown)
SUMS = [
    ([request()], dict(requests=1, priced=1, unknown_cost=0, no_usage=0, cost=Decimal("0.0001")), "$0.0001"),
    ([request(), request(cost=Decimal("0.0002"))], dict(requests=2, priced=2, cost=Decimal("0.0003")), "$0.0003"),
    ([request(cost=Decimal("0.1")) for _ in range(3)], dict(cost=Decimal("0.3")), "$0.30"),  # exact Decimal sums
    ([request(), request(cost=None)], dict(priced=1, unknown_cost=1), "$0.0001 + 1 unknown"),
    ([request(cost=None)], dict(priced=0, unknown_cost=1, cost=Decimal(0)), "unknown"),  # never $0 for unknown
    ([request(cost=None, outcome="error", prompt_tokens=None, ttft=None)], dict(unknown_cost=0, no_usage=1), "$0.00"),
    ([request(offline=True)], dict(requests=1, emulator=1, priced=0, cost=Decimal(0), emulator_cost=Decimal("0.0001")),
     "$0.0001 if billed (emulator)"),
    ([request(), request(offline=True, cost=Decimal("0.0002"))], dict(requests=2, emulator=1, cost=Decimal("0.0001")),
     "$0.0001; $0.0002 if billed (emulator)"),
    ([request(offline=True, cost=None)], dict(emulator_unknown=1, unknown_cost=0), "unknown if billed (emulator)"),
    ([request(prompt_tokens=None, cache_hit_tokens=None, cache_miss_tokens=None, completion_tokens=None,
              reasoning_tokens=None, outcome="interrupted", cost=None), request()],
     dict(no_usage=1, prompt_tokens=100, cache_hit_tokens=64, completion_tokens=20, reasoning_tokens=5),
     "$0.0001 + 1 unknown"),
]  # fmt: skip


@pytest.mark.parametrize("requests,sums,shown", SUMS)
def test_group_sums_and_the_cost_as_shown(requests: list[Any], sums: dict[str, Any], shown: str) -> None:
    (total,) = group_totals(requests, ())
    assert {name: getattr(total, name) for name in sums} == sums
    assert total.cost_text == shown
    assert total.prompt_tokens == sum(r.prompt_tokens or 0 for r in requests)


def test_groups_are_ordered_by_key_and_the_table_has_a_row_each() -> None:
    requests = [request(session="b"), request(session="a", offline=True), request(session="a")]
    sums = group_totals(requests)
    assert [t.key for t in sums] == [("a", "deepseek-v4-flash"), ("a", "deepseek-v4-flash (emulator)"),
                                     ("b", "deepseek-v4-flash")]
    assert sums[0].cache_hit_share == 0.64 and group_totals([request(prompt_tokens=0)], ())[0].cache_hit_share is None
    table = totals_table(sums)
    assert table.headers == ["session", "model", "requests", "input tokens", "output tokens", "cost"]
    assert [row[:2] + row[-1:] for row in table.rows] == [
        ["a", "deepseek-v4-flash", "$0.0001"],
        ["a", "deepseek-v4-flash (emulator)", "$0.0001 if billed (emulator)"],
        ["b", "deepseek-v4-flash", "$0.0001"],
    ]
    assert table.rows[0][2:5] == ["1", "100 (64% cached)", "20 (5 reasoning)"]
