"""Tests of ``evo_magic.display.history``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from evo_magic.core.events import Finished, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.history import HistoryView
from evo_magic.sessions.reply import Reply, Timing, Turn

from .helpers import DOLLARS, assert_skipped_by_mathjax


def history_turns() -> list[Any]:
    from evo_magic.sessions.reply import Reply, Timing, Turn

    def turn(prompt: str, answer: str, cell: Any, usage: Usage | None) -> Turn:
        events: list[Any] = [TextDelta(answer), Finished("stop")]
        if usage is not None:
            from evo_magic.core.events import UsageReported

            events.append(UsageReported(usage))
        reply = Reply(accumulate(events), "deepseek-v4-flash", "default", Timing(0.0, end=1.0), status="ok")
        return Turn(prompt, reply, cell=cell)

    frame = "Here is my data: DataFrame 1,000 rows × 4 columns\n" + "\n".join(
        f"  col_{i}  float64  {i * 1.5:.2f}  missing 0" for i in range(40)
    )
    long_answer = "## Findings\n\n" + "\n".join(f"- **point {i}**: the column `col_{i}` needs cleaning" for i in range(60))
    return [
        turn("What is 2+2?", "**4**\n\n2+2 = 4.", 4, Usage(12, 0, 12, 8, 0)),
        turn(frame, long_answer + "\n\n```python\nimport pandas as pd\ndf.dropna()\n```", 5, Usage(2400, 1280, 1120, 900, 0)),
        turn("中文问题：数据清洗应该从哪里开始？" * 6, "先检查缺失值。😀" * 30, "panel", None),
    ]


def test_history_is_compact_text_within_100_columns() -> None:
    from evo_magic.display.history import HistoryView
    from evo_magic.display.notices import columns

    turns = history_turns()
    text = repr(HistoryView("default", turns))
    lines = text.splitlines()
    assert lines[0] == "Session 'default': 3 turns"
    assert all(columns(line) <= 100 for line in lines), [line for line in lines if columns(line) > 100]
    assert len(lines) == 1 + 3 * 3  # a header line, then three lines a turn
    assert lines[1] == "#1 · In[4] · deepseek-v4-flash · 12 in / 8 out"
    assert lines[2] == "   you: What is 2+2?" and lines[3] == "   deepseek: 4 2+2 = 4."
    assert lines[5].startswith("   you: Here is my data: DataFrame 1,000 rows × 4 columns col_0 float64")
    assert lines[5].endswith(f"… ({len(turns[1].prompt):,} characters)")
    assert lines[6].startswith("   deepseek: Findings point 0: the column col_0 needs cleaning")  # no markdown syntax
    assert lines[7] == "#3 · panel · deepseek-v4-flash · usage unknown"


def test_history_in_html_is_a_few_lines_a_turn_expandable_to_the_whole_turn() -> None:
    from evo_magic.display.history import HistoryView

    html = HistoryView("default", history_turns())._repr_html_()
    assert html.count('<details class="evo-turn">') == 3 and "<details class=\"evo-turn\" open" not in html
    summaries = re.findall(r"<summary>(.*?)</summary>", html, re.S)
    assert len(summaries) == 3 and all(len(s) < 1200 for s in summaries)  # compact: previews only
    assert "col_39" not in summaries[1] and "col_39" in html  # the whole prompt, once expanded
    assert "<strong>point 59</strong>" in html and 'class="language-python evo-hl"' in html  # the answer rendered
    assert "evo-hl :is(" in html  # with the code colours


def reply_object() -> Reply:
    return Reply(accumulate([TextDelta(DOLLARS), Finished("stop")]), "deepseek-v4-flash", "default", Timing(0.0, end=1.0))


MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "history": lambda: HistoryView("default", [Turn(DOLLARS, reply_object(), cell=3)])._repr_html_(),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())
