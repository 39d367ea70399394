"""Prefix continuation, ``%deepseek continue`` and ``%%deepseek --fim`` in a real kernel (the
live widget view, its final HTML, the next cell's code) against the emulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Execution, Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=None) as e:
        yield e


@pytest.fixture(scope="module")
def kernel(emu: Any) -> Iterator[Kernel]:
    k = Kernel({"EVOLINK_API_KEY": "sk-kernel-prefix-4242", "EVOLINK_BASE_URL": emu.url})
    assert k.execute("%load_ext evo_magic").ok
    yield k
    k.close()


def next_cell(ex: Execution) -> str:
    [found] = [p["text"] for p in ex.reply["content"].get("payload", []) if p.get("source") == "set_next_input"]
    return str(found)


def answer_html(ex: Execution) -> str:
    """The answer's final HTML (the last one with a footer: the code notice comes after it)."""
    found = [
        m["content"]["data"]["text/html"]
        for m in ex.of_type("display_data", "update_display_data")
        if 'class="evo-footer"' in m["content"].get("data", {}).get("text/html", "")
    ]
    return found[-1] if found else ""


def test_prefix_and_stop_put_bare_code_in_the_next_cell(kernel: Kernel) -> None:
    ex = kernel.execute('%%deepseek --no-think --prefix "```python\\n" --stop "```" -f code\nPlease write quick sort code')
    assert ex.ok, ex.error_text
    code = next_cell(ex)
    assert code.startswith("def ") and "```" not in code
    compile(code, "<next cell>", "exec")
    html = answer_html(ex)
    assert '<code class="language-python evo-hl">' in html and "The code is in a new cell below" in ex.text()


def test_continue_rescues_an_answer_whose_thinking_used_the_budget(kernel: Kernel, emu: Any) -> None:
    kernel.execute("%deepseek reset")
    cut = kernel.execute("%%deepseek --max-tokens 20\nExplain window functions")
    assert cut.ok, cut.error_text
    assert "no answer: all 20 tokens went to thinking — <code>%deepseek continue</code>" in cut.final_html()
    done = kernel.execute("%deepseek continue --max-tokens 4000")
    assert done.ok, done.error_text
    html = done.final_html()
    assert "Continued an answer cut at max_tokens while thinking" in html and "no answer" not in html
    assert emu.requests[-1]["messages"][-1]["prefix"] is True
    check = kernel.execute("import evo_magic; s = evo_magic.session(); print(len(s.turns), s.turns[0].reply.status)")
    assert "1 ok" in check.text()


def test_fim_fills_the_cell_and_marks_the_fill(kernel: Kernel) -> None:
    ex = kernel.execute("%%deepseek --fim -f code\ndef mean(xs):\n    <FILL>\n    return total / count\n")
    assert ex.ok, ex.error_text
    html = answer_html(ex)
    assert '<mark class="evo-fill">' in html and "Filled in the middle" in html
    code = next_cell(ex)
    namespace: dict[str, Any] = {}
    exec(compile(code, "<next cell>", "exec"), namespace)
    assert namespace["mean"]([1, 2, 3]) == 2
