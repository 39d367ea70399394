"""Fill in the middle from Python: ``evo_magic.fill(prefix, suffix, **options)`` on the bundled
emulator — the request as DeepSeek documents it, streamed and not, a ledger row that is not a
turn, the one-line refusals, and the route setting."""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any

import pytest

import evo_magic
from evo_magic.errors import ApiError, OptionError
from evo_magic.ledger.budget import BudgetExceeded
from evo_magic.runtime import root
from evo_magic.sessions.fill import Filled

from .helpers import Recording

FIB = ("def fib(a):\n", "    return fib(a - 1) + fib(a - 2)\n")


def test_the_request_is_deepseeks_fim_body_on_the_beta_route(wire: Recording) -> None:
    filled = evo_magic.fill(*FIB)
    [(path, body)] = wire.sent
    assert path == "/beta/completions"
    assert body == {
        "model": "deepseek-v4-flash",
        "prompt": FIB[0],
        "max_tokens": 1024,
        "stream": True,
        "stream_options": {"include_usage": True},
        "suffix": FIB[1],
    }
    assert list(body) == ["model", "prompt", "max_tokens", "stream", "stream_options", "suffix"]  # documented order
    assert isinstance(filled, Filled) and filled.status == "ok"
    assert "if a < 2" in filled.text and filled.code == FIB[0] + filled.text + FIB[1]
    namespace: dict[str, Any] = {}
    exec(compile(filled.code, "<fim>", "exec"), namespace)
    assert namespace["fib"](10) == 55


def test_streamed_and_not_the_fill_is_the_same(wire: Recording) -> None:
    streamed = evo_magic.fill(*FIB, temperature=0.2, stop=["\n\n\n"])
    whole = evo_magic.fill(*FIB, temperature=0.2, stop=["\n\n\n"], stream=False)
    assert wire.bodies[1]["stream"] is False and "stream_options" not in wire.bodies[1]
    assert wire.bodies[0]["temperature"] == 0.2 and wire.bodies[0]["stop"] == ["\n\n\n"]
    assert streamed.text == whole.text and streamed.usage == whole.usage


def test_a_fill_is_a_ledger_row_and_not_a_turn(wire: Recording) -> None:
    s = evo_magic.session()
    s.ask("What is 2+2?", thinking=False)
    before = [m.to_openai() for m in s.history]
    filled = evo_magic.fill(*FIB)
    assert [m.to_openai() for m in s.history] == before and len(s.turns) == 1
    rows = root().accounting.ledger.rows("/work/prefix.ipynb")
    assert [(r.session, r.origin, r.outcome) for r in rows] == [("default", "api", "ok"), ("default", "api", "ok")]
    assert rows[1].usage == filled.usage and rows[1].cost == filled.cost and filled.cost is not None
    s.ask("And 3+3?", thinking=False)
    assert FIB[0] not in str(wire.bodies[-1]["messages"])  # the next question does not carry it
    named = evo_magic.fill(*FIB, session="code")
    assert named.ok and root().accounting.ledger.rows("/work/prefix.ipynb")[-1].session == "code"


def test_the_sessions_thinking_and_chat_max_tokens_are_not_inherited(wire: Recording) -> None:
    root().set_default("max_tokens", 64_000)
    evo_magic.session(thinking=True, reasoning_effort="high", model="deepseek-v4-pro", temperature=0.5)
    evo_magic.fill(*FIB)
    body = wire.bodies[0]
    assert body["model"] == "deepseek-v4-pro" and body["temperature"] == 0.5 and body["max_tokens"] == 1024
    assert "thinking" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"thinking": True}, "drop --think"),
        ({"reasoning_effort": "high"}, "drop --effort"),
        ({"model": "deepseek-reasoner"}, "always thinks"),
        ({"max_tokens": 5000}, "at most 4,096 tokens, not 5,000"),
        ({"json_mode": True}, "no json_mode"),
        ({"n": 2}, "no n"),
        ({"tools": ({"type": "function", "function": {"name": "f"}},)}, "takes no tools"),
        ({"protocol": "anthropic"}, "not offered on the Anthropic protocol"),
        ({"temperature": 3}, "temperature must be between 0 and 2"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_what_fim_does_not_offer_is_one_line_before_any_request(
    wire: Recording, options: dict[str, Any], words: str
) -> None:
    with pytest.raises(OptionError, match=words) as info:
        evo_magic.fill(*FIB, **options)
    assert "\n" not in info.value.one_line() and wire.sent == []


def test_no_code_around_the_hole_is_refused(wire: Recording) -> None:
    with pytest.raises(OptionError, match="no code around the hole"):
        evo_magic.fill("  \n", "")
    assert wire.sent == []


def test_a_fill_cut_at_max_tokens_says_so_without_continue(wire: Recording) -> None:
    filled = evo_magic.fill(*FIB, max_tokens=3)
    assert filled.status == "length"
    said = "cut at 3 tokens — raise --max-tokens (FIM writes at most 4,096)"
    assert f"[{said}]" in repr(filled) and said in filled._repr_html_()
    assert "%deepseek continue" not in repr(filled) + filled._repr_html_()


def test_the_budget_holds_for_fim(wire: Recording) -> None:
    evo_magic.fill(*FIB)
    root().accounting.budget = Decimal("0.0000001")
    with pytest.raises(BudgetExceeded):
        evo_magic.fill(*FIB)
    assert len(wire.sent) == 1


def test_a_closed_fim_route_names_the_setting_and_the_setting_moves_it(wire: Recording, emulator: Any) -> None:
    emulator.close_route("/beta/completions")
    try:
        with pytest.raises(ApiError) as info:
            evo_magic.fill(*FIB)
        assert info.value.one_line().endswith(
            "the gateway does not serve FIM completion at /beta/completions; if it does elsewhere, "
            "set %config DeepSeekMagics.fim_path = '/v1/completions'"
        )
        emulator.open_route("/v1/completions", "fim")
        root().set_default("fim_path", "/v1/completions")
        assert evo_magic.fill(*FIB).ok and wire.paths[-1] == "/v1/completions"
    finally:
        emulator.open_route("/beta/completions", "fim")
        emulator.close_route("/v1/completions")
    rows = root().accounting.ledger.rows("/work/prefix.ipynb")
    assert [r.outcome for r in rows] == ["error", "ok"]


def test_the_key_in_the_code_is_masked(wire: Recording) -> None:
    key = root().endpoint().key
    assert key is not None
    filled = evo_magic.fill(f"API_KEY = '{key.reveal()}'\n" + FIB[0], FIB[1])
    assert key.reveal() not in wire.bodies[0]["prompt"] and key.reveal() not in filled.code
    ast.parse(filled.code)
