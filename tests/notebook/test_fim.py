"""``%%deepseek --fim``: a cell of code with one ``<FILL>`` marker, filled by DeepSeek's FIM
completion (in-process shell on the bundled emulator): the request, the completed code shown
with the fill marked, ``-f code``, ``-o``, the ledger, and the one-line refusals."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from evo_magic.runtime import root
from evo_magic.sessions.fill import Filled

from .helpers import shown_text

CODE = "def mean(xs):\n    <FILL>\n    return total / count\n"


def test_the_cell_is_filled_and_shown_with_the_fill_marked(wired: Any) -> None:
    wired.rl_next_input = None
    with capture_output() as cell:
        wired.run_cell_magic("deepseek", "--fim -f code -o filled", CODE)
    [(path, body)] = wired.wire.sent
    assert path == "/beta/completions"
    assert body["prompt"] == "def mean(xs):\n    " and body["suffix"] == "\n    return total / count\n"
    assert body["max_tokens"] == 1024 and "thinking" not in body and "messages" not in body
    filled = wired.user_ns["filled"]
    assert isinstance(filled, Filled) and filled.ok and filled.text
    namespace: dict[str, Any] = {}
    exec(compile(wired.rl_next_input, "<next cell>", "exec"), namespace)  # the completed code, in the next cell
    assert namespace["mean"]([1, 2, 3]) == 2 and wired.rl_next_input == filled.code.rstrip("\n")
    [answer, notice] = cell.outputs
    assert '<mark class="evo-fill">' in answer.data["text/html"]
    text = answer.data["text/plain"]
    assert text.startswith("Filled in the middle: ") and "\n  def mean(xs):\n+ " in text
    assert "The completed code is in a new cell below" in notice.data["text/plain"]
    assert root().registry.get().turns == []  # not a turn of the conversation
    [row] = root().accounting.ledger.rows("/work/prefix-cells.ipynb")
    assert (row.origin, row.outcome, row.session) == ("cell", "ok", "default") and row.cost is not None


def test_a_named_session_and_options_reach_the_request(wired: Any) -> None:
    wired.run_cell_magic("deepseek", "--fim -s code -m deepseek-v4-pro --max-tokens 256 --temperature 0.1", CODE)
    body = wired.wire.bodies[0]
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("deepseek-v4-pro", 256, 0.1)
    assert root().accounting.ledger.rows("/work/prefix-cells.ipynb")[0].session == "code"


@pytest.mark.parametrize(
    ("line", "body", "words"),
    [
        ("--fim", "def f():\n    pass\n", "--fim needs one <FILL> marker where the code goes; the cell has none"),
        ("--fim", "a = <FILL>\nb = <FILL>\nc = <FILL>\n", "--fim needs one <FILL> marker; the cell has 3"),
        ("--fim", "  <FILL>  \n", "there is no code around <FILL>"),
        ("--fim --think", CODE, "FIM completion runs without thinking: drop --think"),
        ("--fim --effort high", CODE, "drop --effort"),
        ("--fim --json", CODE, "no json_mode"),
        ("--fim -f json", CODE, "no json_mode"),
        ("--fim -n 2", CODE, "no n (-n)"),
        ("--fim --max-tokens 5000", CODE, "at most 4,096 tokens, not 5,000"),
        ("--fim --tools helper", CODE, "FIM completion takes no tools"),
        ("--fim --protocol anthropic", CODE, "not offered on the Anthropic protocol"),
        ("--fim -m deepseek-reasoner", CODE, "always thinks"),
        ('--fim --prefix "x"', CODE, "--prefix continues a chat answer, not a fill"),
        ("--fim --system terse", CODE, "--system"),
        ("--fim --fix", CODE, "--fix"),
    ],
)
def test_what_fim_does_not_take_is_one_line_before_any_request(wired: Any, line: str, body: str, words: str) -> None:
    wired.user_ns["helper"] = lambda x: x
    with pytest.raises(UsageError) as info:
        wired.run_cell_magic("deepseek", line, body)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert wired.wire.sent == []


def test_a_closed_fim_route_is_one_line_naming_the_setting(wired: Any, emulator: Any) -> None:
    emulator.close_route("/beta/completions")
    try:
        result = wired.run_cell(f"%%deepseek --fim\n{CODE}")
    finally:
        emulator.open_route("/beta/completions", "fim")
    [line] = result.error_in_exec._render_traceback_()
    assert line.endswith("set %config DeepSeekMagics.fim_path = '/v1/completions'")
    wired.run_line_magic("config", "DeepSeekMagics.fim_path = '/beta/completions'")
    assert wired.run_cell(f"%%deepseek --fim\n{CODE}").success


def test_text_format_and_a_cell_without_live_view_show_it_once(wired: Any) -> None:
    with capture_output() as cell:
        wired.run_cell_magic("deepseek", "--fim", "def add(a, b):\n<FILL>\n")
    [answer] = cell.outputs
    assert shown_text(cell).count("Filled in the middle") == 1 and "+     " in answer.data["text/plain"]


def test_logprobs_of_the_fill_come_after_it(wired: Any) -> None:
    from evo_magic.display.logprobs import LogprobsView

    with capture_output() as cell:
        wired.run_cell_magic("deepseek", "--fim --logprobs --top-logprobs 2 -o filled", CODE)
    assert wired.wire.bodies[0]["logprobs"] == 2
    [answer, view] = cell.outputs
    assert "Filled in the middle" in answer.data["text/plain"] and "text/html" in view.data
    tokens = wired.user_ns["filled"].reply.snapshot.choice(0).logprobs
    assert tokens and isinstance(LogprobsView(tokens), LogprobsView)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("--fim --map rows", "--map"),
        ("--fim --schema Point", "--schema"),
        ("--fim --estimate", "--estimate"),
        ('--map rows --prefix "x"', "--prefix"),
    ],
)
def test_fim_and_prefix_do_not_mix_with_map(wired: Any, line: str, words: str) -> None:
    wired.user_ns["rows"] = ["a", "b"]
    wired.user_ns["Point"] = {"type": "object", "properties": {"x": {"type": "number"}}}
    with pytest.raises(UsageError) as info:
        wired.run_cell_magic("deepseek", line, CODE if "--fim" in line else "Say {text}")
    assert words in str(info.value) and "\n" not in str(info.value) and wired.wire.sent == []
