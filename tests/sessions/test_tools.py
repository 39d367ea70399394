from __future__ import annotations

import enum
import json
from typing import Literal

import pytest

import evo_magic
from evo_magic import errors
from evo_magic.errors import OptionError
from evo_magic.runtime import root
from evo_magic.sessions.tools import DEFAULT_MAX_TOOL_CALLS, function_tool, run_call

from .helpers import Api, use


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def weather(
    city: str,
    days: int = 1,
    unit: Unit = Unit.C,
    detail: Literal["short", "long"] = "short",
    tags: list[str] | None = None,
) -> dict:
    """Get the weather forecast for a city.

    Args:
        city: Name of the city, e.g. Paris.
        days: How many days ahead.
        unit: Temperature unit.
    """
    return {"city": city, "days": days}


def sphinx(x: float, flag: bool) -> float:
    """Scale a number.

    :param x: the number
    :param flag: whether to double it
    """
    return x * (2 if flag else 1)


def boom() -> None:
    """Always fails."""
    raise RuntimeError("disk on fire")


def test_schema_from_signature_hints_defaults_and_docstring() -> None:
    fn = function_tool(weather)["function"]
    assert fn["name"] == "weather" and fn["description"] == "Get the weather forecast for a city."
    props = fn["parameters"]["properties"]
    assert props["city"] == {"type": "string", "description": "Name of the city, e.g. Paris."}
    assert props["days"] == {"type": "integer", "description": "How many days ahead.", "default": 1}
    assert (
        props["unit"]["enum"] == ["celsius", "fahrenheit"] and props["unit"]["default"] == "celsius"
    )
    assert props["detail"] == {"enum": ["short", "long"], "default": "short"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "default": None}
    assert fn["parameters"]["required"] == ["city"]


def test_sphinx_docstrings() -> None:
    props = function_tool(sphinx)["function"]["parameters"]["properties"]
    assert props["x"] == {"type": "number", "description": "the number"}
    assert props["flag"]["description"] == "whether to double it"


def test_not_callable_or_bad_name() -> None:
    with pytest.raises(OptionError):
        function_tool(42)  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        function_tool(lambda: 1)


def test_run_call_results_and_failures_as_text() -> None:
    assert run_call(weather, '{"city": "Oslo"}') == (json.dumps({"city": "Oslo", "days": 1}), True)
    text, ok = run_call(boom, "{}")
    assert not ok and text == "Error: RuntimeError: disk on fire"
    text, ok = run_call(weather, '{"town": "Oslo"}')
    assert not ok and "invalid arguments" in text
    text, ok = run_call(weather, "{nope")
    assert not ok and "not valid JSON" in text


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-tool-cap-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_ten_thousand_calls_in_one_round_run_only_up_to_the_cap(env: None, protocol: str) -> None:
    api = use(Api(protocol, 10_000))
    ran: list[int] = []
    seen: list[str] = []

    def ping(n: int) -> int:
        ran.append(n)
        return n

    reply = evo_magic.session().ask("go", protocol=protocol, tools=[ping], on_tool=lambda c, t, ok: seen.append(c.id))
    assert DEFAULT_MAX_TOOL_CALLS == 32
    assert ran == list(range(32)) and seen == api.ids[:32]
    results = api.results()
    assert len(results) == 10_000 and results[:32] == [str(i) for i in range(32)]
    assert set(results[32:]) == {
        "Error: not run: this round has 10,000 tool calls and at most 32 run per round "
        "(max_tool_calls); make fewer calls at a time."
    }
    assert reply.ok and reply.text == "All done."
    notice = "The model made 10,000 tool calls in one round: the first 32 ran, the other 9,968 were not run (max_tool_calls = 32)."
    assert reply.notes == [notice] and reply.notice == notice
    assert notice in reply._repr_html_() and notice in repr(reply)  # the answer's banner says so, once
    assert len(evo_magic.session().history) == 10_003  # question, calls, every result, answer


def test_the_cap_is_set_per_call_and_kernel_wide(env: None) -> None:
    def ping(n: int) -> int:
        return n

    api = use(Api("openai", 5))
    reply = evo_magic.session().ask("go", tools=[ping], max_tool_calls=2)
    assert [r.startswith("Error: not run") for r in api.results()] == [False, False, True, True, True]
    assert reply.notes == ["The model made 5 tool calls in one round: the first 2 ran, the other 3 were not run "
                           "(max_tool_calls = 2)."]
    root().set_default('max_tool_calls', 4)
    api.again(5)
    evo_magic.session().ask("again", tools=[ping])
    assert [r.startswith("Error: not run") for r in api.results()] == [False] * 4 + [True]
    api.again(4)
    reply = evo_magic.session().ask("exactly", tools=[ping])  # at the cap: everything runs, nothing said
    assert not any(r.startswith("Error") for r in api.results()) and reply.notes == [] and reply.notice is None


@pytest.mark.parametrize("bad", [0, -1])
def test_a_cap_below_one_is_refused_before_sending(env: None, bad: int) -> None:
    api = use(Api("openai", 1))

    def ping() -> str:
        return "pong"

    with pytest.raises(errors.OptionError, match=f"max_tool_calls must be at least 1, not {bad}"):
        evo_magic.session().ask("go", tools=[ping], max_tool_calls=bad)
    assert api.bodies == []
