from __future__ import annotations

import enum
import json
from typing import Literal

import pytest

from evo_magic.errors import OptionError
from evo_magic.sessions.tools import function_tool, run_call


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


def test_approval_without_a_front_end_that_can_ask_declines_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.error import StdinNotImplementedError

    from evo_magic.core.snapshot import ToolCall
    from evo_magic.notebook.args import ask_approval

    def no_stdin(prompt: str = "") -> str:
        raise StdinNotImplementedError("raw_input was called, but this frontend does not support input requests.")

    call = ToolCall(0, "call_0", "weather", '{"city": "Paris"}')
    monkeypatch.setattr("builtins.input", no_stdin)
    assert ask_approval(call) is False
    assert capsys.readouterr().out == (
        "Not run: weather needs approval (--approve) and this front end cannot ask for it.\n"
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    assert ask_approval(call) is True
