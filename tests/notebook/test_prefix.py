"""``%%deepseek --prefix`` and ``%deepseek continue`` in an in-process IPython shell on the
bundled emulator, on both protocols: the classic bare-code use with ``-f code``, the escapes,
a cut answer rescued with one command, and the one-line refusals."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from evo_magic.runtime import root

from .helpers import shown_text

PROTOCOLS = ("openai", "anthropic")
CUT_EMPTY = "[no answer: all 20 tokens went to thinking — %deepseek continue, or raise --max-tokens]"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_prefix_and_a_stop_put_bare_code_in_the_next_cell(wired: Any, protocol: str) -> None:
    wired.rl_next_input = None
    line = f'--protocol {protocol} --no-think --prefix "```python\\n" --stop "```" -f code -o r'
    with capture_output() as cell:
        wired.run_cell_magic("deepseek", line, "Please write quick sort code")
    code = wired.rl_next_input
    assert code and "```" not in code and code.startswith("def ")
    namespace: dict[str, Any] = {}
    exec(compile(code, "<next cell>", "exec"), namespace)  # it runs
    reply = wired.user_ns["r"]
    assert reply.text == "```python\n" + code + "\n" and reply.status == "ok"
    path, body = wired.wire.sent[0]
    if protocol == "openai":
        assert path == "/beta/chat/completions" and body["stop"] == ["```"]
        assert body["messages"][-1] == {"role": "assistant", "content": "```python\n", "prefix": True}
    else:
        assert path == "/v1/messages" and body["stop_sequences"] == ["```"]
        assert body["messages"][-1] == {"role": "assistant", "content": "```python\n"}
    text = shown_text(cell)
    assert text.startswith("```python\ndef ") and "The code is in a new cell below" in text


def test_escapes_in_prefix_and_stop(wired: Any) -> None:
    wired.run_cell_magic("deepseek", r'--no-think --prefix "Step 1:\tthe\\data\n" --stop "\n\n"', "Explain joins")
    body = wired.wire.bodies[0]
    assert body["messages"][-1]["content"] == "Step 1:\tthe\\data\n" and body["stop"] == ["\n\n"]
    wired.run_cell_magic("deepseek", r"--no-think --stop '\\n' --new", "Explain joins")
    assert wired.wire.bodies[1]["stop"] == ["\\n"]  # in single quotes, \\ is one backslash


def test_prefix_reasoning_starts_the_thinking(wired: Any) -> None:
    wired.run_cell_magic("deepseek", '--prefix "" --prefix-reasoning "Frames matter here." -o r', "Explain window functions")
    last = wired.wire.bodies[0]["messages"][-1]
    assert last == {"role": "assistant", "content": "", "reasoning_content": "Frames matter here.", "prefix": True}
    assert wired.user_ns["r"].reasoning.startswith("Frames matter here.")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('--prefix ""', "the prefix is empty"),
        ('--prefix-reasoning "Hm"', "prefix_reasoning needs a prefix"),
        ('--no-think --prefix "" --prefix-reasoning "Hm"', "starts the thinking, which is off"),
        ('--prefix "x" --tools helper', "does not go with tools"),
    ],
)
def test_prefix_misuse_is_one_line_before_any_request(wired: Any, line: str, words: str) -> None:
    wired.user_ns["helper"] = lambda x: x  # a notebook function for --tools
    with pytest.raises(UsageError, match=words) as info:
        wired.run_cell_magic("deepseek", line, "Explain joins")
    assert "\n" not in str(info.value) and wired.wire.sent == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_continue_rescues_a_cut_answer_in_one_command(wired: Any, protocol: str) -> None:
    with capture_output() as first:
        wired.run_cell_magic("deepseek", f"--protocol {protocol} --max-tokens 20", "Explain window functions")
    assert CUT_EMPTY in shown_text(first)
    with capture_output() as second:
        assert wired.run_line_magic("deepseek", "continue --max-tokens 4000") is None
    text = shown_text(second)
    assert "[Continued an answer cut at max_tokens while thinking" in text and "no answer" not in text
    session = root().registry.get()
    [turn] = session.turns
    assert turn.reply.status == "ok" and turn.reply.text and text.count(turn.reply.text.strip("\n")[:60]) == 1
    assert wired.wire.bodies[-1]["max_tokens"] == 4000
    history = wired.run_line_magic("deepseek", "history")
    assert "1 turn" in repr(history)
    with pytest.raises(UsageError, match="was not cut at max_tokens"):
        wired.run_line_magic("deepseek", "continue")


def test_continue_a_named_session(wired: Any) -> None:
    wired.run_cell_magic("deepseek", "-s notes --no-think --max-tokens 5", "Explain indexes")
    wired.run_line_magic("deepseek", "continue -s notes --max-tokens 4000")
    notes = root().registry.get("notes")
    assert notes.turns[0].reply.status == "ok" and root().registry.get().turns == []
