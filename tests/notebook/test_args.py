"""The ``%%deepseek`` option line: any value, quoted any way, reaches the request literally or
is refused with a one-line UsageError; never a traceback, never code execution (IPython
expands ``{expr}`` and ``$name`` in magic lines unless the magic opts out)."""

from __future__ import annotations

import builtins
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.core.escapes import unescape

from ..profiles import examples

PWN = "{__import__('builtins').__setattr__('EVO_PWNED', 1)}"


@pytest.fixture
def shell(answering_shell: InteractiveShell) -> Iterator[InteractiveShell]:
    answering_shell.user_ns["x"] = "EXPANDED"
    yield answering_shell
    vars(builtins).pop("EVO_PWNED", None)


def run(ip: InteractiveShell, line: str, body: str = "hello") -> Any:
    """A cell as a user runs it: the whole text through IPython's transformers."""
    return ip.run_cell(f"%%deepseek {line}\n{body}", store_history=True)


def test_braces_and_dollars_in_options_are_sent_literally(shell: InteractiveShell) -> None:
    for value in ("Keep {x}", "cost $x", "{x!r:>10}", "{{x}}", PWN, "$(whoami) `id`"):
        result = run(shell, f"--new --no-think --system {shlex.quote(value)} --user {shlex.quote(value)}")
        assert result.success, result.error_in_exec
        sent = shell.bodies[-1]  # type: ignore[attr-defined]
        assert sent["messages"][0] == {"role": "system", "content": value}
        assert sent["user"] == value
    assert not hasattr(builtins, "EVO_PWNED")


# Characters that end a line of a cell (str.splitlines): a value holding one is not on the
# option line, so the property leaves them out. Surrogates cannot come from a front end.
LINE_ENDS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
VALUE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=LINE_ENDS), max_size=30)


def _double_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


QUOTINGS = {
    "shlex": lambda opt, v: f"{opt} {shlex.quote(v)}",
    "double": lambda opt, v: f"{opt} {_double_quoted(v)}",
    "equals": lambda opt, v: f"{opt}={shlex.quote(v)}",
    "bare": lambda opt, v: f"{opt} {v}",
}
WHERE = {
    "--system": lambda body: body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else None,
    "--stop": lambda body: (body.get("stop") or [None])[0],
    "--user": lambda body: body.get("user"),
    "--prefix": lambda body: body["messages"][-1]["content"] if body["messages"][-1].get("prefix") else None,
}
ESCAPED = ("--stop", "--prefix")  # their values go through core/escapes: \n, \t and \\


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(VALUE, st.sampled_from([PWN, "{x}", "$x", "-x", "--new", "", " ", "'", '"', "\\"])),
    option=st.sampled_from(sorted(WHERE)),
    quoting=st.sampled_from(sorted(QUOTINGS)),
)
@example(value="Keep {x}", option="--system", quoting="double")
def test_property_any_option_value_reaches_the_wire_literally_or_is_refused_in_one_line(
    shell: InteractiveShell, value: str, option: str, quoting: str
) -> None:
    bodies = shell.bodies  # type: ignore[attr-defined]
    before = len(bodies)
    result = run(shell, f"--new --no-think {QUOTINGS[quoting](option, value)}")
    assert not hasattr(builtins, "EVO_PWNED")
    if result.success:
        assert len(bodies) == before + 1
        shown = WHERE[option](bodies[-1])
        typed = shlex.split(f"{option} {value}".rstrip())[1] if quoting == "bare" else value  # bare: the word shlex reads
        assert shown == (unescape(typed) if option in ESCAPED else typed), (shown, value)
    else:
        error = result.error_in_exec or result.error_before_exec
        assert isinstance(error, UsageError), repr(error)
        assert len(str(error).strip().splitlines()) == 1, str(error)
        assert len(bodies) == before


# --- --logit-bias: token ids are ASCII digits ------------------------------------------------


@pytest.mark.parametrize("spec", ["²:5", "１２３:5", "١٢٣:-5", '{"²": 5}', '{"１２３": 5}', "12a:5", "-1:5", " :5"])
def test_logit_bias_token_ids_are_ascii_digits_only(shell: InteractiveShell, spec: str) -> None:
    result = run(shell, f"--no-think --logit-bias {shlex.quote(spec)}")
    assert isinstance(result.error_in_exec, UsageError), spec
    assert len(str(result.error_in_exec).splitlines()) == 1
    assert shell.bodies == []  # type: ignore[attr-defined]


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


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("--thinking off", "unrecognized arguments: --thinking off (did you mean --think or --no-think?)"),
        ("--max-tokns 30", "unrecognized arguments: --max-tokns 30 (did you mean --max-tokens?)"),
        ("--no-cash", "unrecognized arguments: --no-cash (did you mean --cache or --no-cache?)"),
        ("--zzz", "unrecognized arguments: --zzz"),
    ],
)
def test_an_unknown_option_names_the_nearest_ones(shell: InteractiveShell, line: str, said: str) -> None:
    result = run(shell, f"--new {line}")
    assert isinstance(result.error_in_exec, UsageError) and str(result.error_in_exec) == said
    assert shell.bodies == []  # type: ignore[attr-defined]
