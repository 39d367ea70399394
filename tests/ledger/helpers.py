"""Ledger test helpers: recorded usages, a sample ledger, rows, totals, and the spend-chart readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from evo_magic.core.usage import Usage
from evo_magic.ledger.chart import SpendPoint
from evo_magic.ledger.report import UsageRecord
from evo_magic.ledger.store import (
    Ledger,
    LedgerRow,
)
from evo_magic.ledger.totals import Totals, group_totals

AT = datetime(2026, 6, 10, 9, 4, 13, tzinfo=timezone.utc)


# Usage of the recorded V4 tool loop (tests/fixtures/recorded/v4_thinking_tool_loop_*), costs at
# v4-flash 0.0028 / 0.14 / 0.28 worked out in test_pricing.
TURN1 = Usage(563, 512, 51, 116, 60)  # 0.0000410536


TURN2 = Usage(875, 0, 875, 79, 26)  # 0.00014462


def row(**kw: object) -> LedgerRow:
    base: dict[str, object] = {
        "notebook": "analysis.ipynb",
        "session": "default",
        "model_requested": "deepseek-v4-flash",
        "model_answered": "deepseek-v4-flash",
        "at": AT,
    }
    return LedgerRow(**{**base, **kw})  # type: ignore[arg-type]


def sample(ledger: Ledger) -> None:
    ledger.record(row(model_requested="deepseek-chat", usage=TURN1, cost=Decimal("0.0000410536"), cell=3))
    ledger.record(row(usage=TURN2, cost=Decimal("0.00014462"), cell=3))
    ledger.record(row(usage=TURN3, cost=Decimal("0.0000307888"), cell=3))
    ledger.record(row(outcome="interrupted", cell=4, ttft=0.8, elapsed=3.0))  # no usage reported
    pro = {"session": "review", "model_requested": "deepseek-v4-pro", "model_answered": "deepseek-v4-pro"}
    ledger.record(row(**pro, usage=BIG, cost=Decimal("0.3388"), origin="panel"))
    ledger.record(row(**pro, outcome="error", error="RateLimitError"))  # failed before any token
    ledger.record(row(session="review", model_requested="mystery", model_answered=None, usage=TURN1))
    ledger.record(row(notebook="other.ipynb", usage=TURN2, cost=Decimal("0.00014462")))


def totals(ledger: Ledger, notebook: str | None = None, by: tuple[str, ...] = ("session", "model")) -> list[Totals]:
    """What the usage view sums: the ledger's rows, grouped in Python."""
    return group_totals([UsageRecord.from_ledger(r) for r in ledger.rows(notebook)], by)


TURN3 = Usage(976, 896, 80, 61, 25)  # 0.0000307888


BIG = Usage(300_000, 200_000, 100_000, 50_000, 20_000)  # v4-pro peak: 0.3388


SVG = "{http://www.w3.org/2000/svg}"


def spread(n: int, cost: Decimal | None = Decimal("0.0001"), label: str = "") -> list[SpendPoint]:
    return [SpendPoint(AT + timedelta(minutes=7 * i), cost, label) for i in range(n)]


def circles(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f".//{SVG}circle")
