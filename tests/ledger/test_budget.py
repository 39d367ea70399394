"""Budget verdicts: ok / warn from 80 % / refuse, and the one-line messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evo_magic.errors import OptionError
from evo_magic.ledger.budget import (
    LARGE_PROMPT_TOKENS,
    BudgetExceeded,
    check,
    large_prompt_notice,
    parse_limit,
)

D = Decimal


def test_warn_from_80_percent_names_spend_and_limit() -> None:
    verdict = check(D("1.62"), D("2.00"), notebook="analysis.ipynb")
    assert verdict.state == "warn"
    assert verdict.message == "Budget for analysis.ipynb: $1.62 of $2.00 spent (81 %)."
    verdict.raise_if_refused()  # a warning does not refuse


def test_below_80_percent_is_ok() -> None:
    verdict = check(D("1.59"), D("2"), notebook="a.ipynb")
    assert verdict.state == "ok" and not verdict.refused
    assert verdict.message == "Budget for a.ipynb: $1.59 of $2.00 spent (79 %)."


def test_the_estimate_counts_towards_the_warning() -> None:
    verdict = check(D("1.59"), D("2"), D("0.01"))  # 1.60 = 80 %
    assert verdict.state == "warn"
    assert verdict.message == (
        "Budget for this notebook: $1.59 of $2.00 spent (79 %). With this request's input (about $0.01) it reaches 80 %."
    )


def test_percent_is_floored() -> None:
    assert "(79 %)" in check(D("1.5999"), D("2")).message


def test_refuse_when_spend_reached_the_limit() -> None:
    verdict = check(D("2.00"), D("2.00"), notebook="analysis.ipynb")
    assert verdict.state == "refuse"
    assert verdict.message == "Budget for analysis.ipynb is used up: $2.00 of $2.00 spent (100 %); request refused."
    with pytest.raises(BudgetExceeded) as info:
        verdict.raise_if_refused()
    line = info.value.one_line()
    assert line.startswith("Budget for analysis.ipynb is used up: $2.00 of $2.00") and "%config" in line
    assert info.value._render_traceback_() == [f"BudgetExceeded: {line}"]


def test_refuse_when_the_input_alone_would_pass_the_limit() -> None:
    verdict = check(D("1.62"), D("2.00"), D("0.50"), notebook="analysis.ipynb")
    assert verdict.refused
    assert verdict.message == (
        "Request refused: its input alone is estimated at $0.50, which would take analysis.ipynb past its "
        "budget: $1.62 of $2.00 spent (81 %)."
    )


def test_exactly_reaching_the_limit_with_the_estimate_is_allowed() -> None:
    assert check(D("1.50"), D("2.00"), D("0.50")).state == "warn"


def test_unknown_estimate_does_not_refuse() -> None:
    assert check(D("1.99"), D("2.00"), None).state == "warn"


def test_no_budget_is_always_ok() -> None:
    verdict = check(D("123.45"), None, D("1000"), notebook="n.ipynb")
    assert verdict.state == "ok"
    assert verdict.message == "No budget for n.ipynb: $123.45 spent."


def test_zero_budget_refuses_everything() -> None:
    verdict = check(D(0), D(0))
    assert verdict.refused
    assert verdict.message == "Budget for this notebook is used up: $0.00 of $0.00 spent; request refused."


def test_unpriced_requests_are_mentioned() -> None:
    message = check(D("0.5"), D("2"), unpriced=3, notebook="n").message
    assert message == "Budget for n: $0.50 of $2.00 spent (25 %). Not counted: 3 requests with unknown price."
    assert "1 request with" in check(D("0.5"), D("2"), unpriced=1).message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("none", None),
        (2, D(2)),
        (2.5, D("2.5")),
        ("2.50", D("2.50")),
        ("$1,000", D(1000)),
        ("0", D(0)),
    ],
)
def test_parse_limit(value: object, expected: Decimal | None) -> None:
    assert parse_limit(value) == expected


@pytest.mark.parametrize("value", ["two dollars", -1, "nan", True, "inf"])
def test_parse_limit_rejects(value: object) -> None:
    with pytest.raises(OptionError):
        parse_limit(value)


def test_large_prompt_notice() -> None:
    assert large_prompt_notice(LARGE_PROMPT_TOKENS, D("1"), "m") is None
    assert large_prompt_notice(120_000, D("0.0528"), "deepseek-v4-flash") == (
        "Large prompt: about 120,000 tokens; estimated input cost $0.0528 at deepseek-v4-flash's cache-miss "
        "price (less with cache hits)."
    )
    assert large_prompt_notice(120_000, None, "mystery") == (
        "Large prompt: about 120,000 tokens; input cost unknown (no price for mystery)."
    )


