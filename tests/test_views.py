"""Readable views: n choices in one answer, -f json shown once, the logprobs view, the history
view (HTML compact and expandable; text within 100 columns)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.core.events import Finished, ReasoningDelta, TextDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.display.render import Footer, render_reply_html, render_reply_text


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, emulator: object) -> Iterator[tuple[InteractiveShell, list[Any]]]:
    """An IPython shell on the bundled emulator, without a live view: what it displays is kept."""
    from .conftest import use_offline

    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    use_offline(monkeypatch, emulator, "/work/views.ipynb")
    shown: list[Any] = []
    monkeypatch.setattr("evo_magic.notebook.cell.display", lambda *a, **k: shown.append(a[0]))
    yield ip, shown
    ip.extension_manager.unload_extension("evo_magic")


def html_of(obj: Any) -> str:
    return obj["text/html"] if isinstance(obj, dict) else obj._repr_html_()


def text_of(obj: Any) -> str:
    return obj["text/plain"] if isinstance(obj, dict) else repr(obj)


FOOTER = Footer("deepseek-v4-flash", Usage(30, 0, 30, 90, 12), 2.0, 0.3, 1.0)


def three_choices() -> Any:
    events: list[Any] = []
    for i in range(3):
        events += [ReasoningDelta(f"think {i}", choice=i), TextDelta(f"**answer {i + 1}**", choice=i)]
    return accumulate([*events, *(Finished("stop", choice=i) for i in range(3))])


def test_n_choices_are_one_answer_each_labelled_alike_with_one_footer_at_the_end() -> None:
    out = render_reply_html(three_choices(), FOOTER)
    labels = re.findall(r'<div class="evo-choice-label">(.*?)</div>', out)
    assert [re.sub(r"<[^>]+>", "", label) for label in labels] == [
        "Choice 1 of 3 · the conversation continues from it",
        "Choice 2 of 3 · %deepseek pick 2 continues from it",
        "Choice 3 of 3 · %deepseek pick 3 continues from it",
    ]
    assert out.count('<section class="evo-choice">') == 3 and out.count('class="evo-footer"') == 1
    for i in range(3):
        assert f"<strong>answer {i + 1}</strong>" in out and f"think {i}" in out
    assert out.index("answer 3") < out.index('class="evo-footer"')
    assert ".evo-reply .evo-choice" in out  # one style for all of them

    text = render_reply_text(three_choices(), FOOTER)
    heads = [line for line in text.splitlines() if line.startswith("Choice ")]
    assert heads == [
        "Choice 1 of 3 (the conversation continues from it):",
        "Choice 2 of 3 (%deepseek pick 2 continues from it):",
        "Choice 3 of 3 (%deepseek pick 3 continues from it):",
    ]
    assert text.endswith("deepseek-v4-flash · 30 in (0% cached) · 90 out (12 reasoning) · 2.0 s")


def test_one_choice_has_no_label() -> None:
    snap = accumulate([TextDelta("just one"), Finished("stop")])
    assert "evo-choice" not in render_reply_html(snap, FOOTER).split("</style>", 1)[1]
    assert "Choice" not in render_reply_text(snap, FOOTER)


def test_a_json_answer_is_shown_as_indented_highlighted_json() -> None:
    snap = accumulate([TextDelta('{"colours": ["red", "blue"], "n": 2}'), Finished("stop")])
    out = render_reply_html(snap, FOOTER, as_json=True)
    assert '<code class="language-json evo-hl">' in out and '"colours"</span>' in out
    text = render_reply_text(snap, FOOTER, as_json=True)
    assert text.startswith(json.dumps({"colours": ["red", "blue"], "n": 2}, indent=2) + "\n\n")
    invalid = accumulate([TextDelta("not {json"), Finished("stop")])  # shown as it came
    assert "<p>not {json</p>" in render_reply_html(invalid, FOOTER, as_json=True)


def test_the_live_view_ends_on_the_json_form_and_the_terminal_labels_every_choice() -> None:
    import io

    from evo_magic.display.live import TextView, WidgetView

    from .test_live import Clock, FakeHandle, FakeWidget

    handle = FakeHandle()
    view = WidgetView(FakeWidget(), handle, clock=Clock(), as_json=True)
    snap = accumulate([TextDelta('{"a": [1, 2]}'), Finished("stop")])
    view.update(snap)
    view.finish(snap, FOOTER)
    [(bundle, kw)] = handle.updates
    assert '<code class="language-json evo-hl">' in bundle["text/html"] and kw == {"raw": True}
    assert bundle["text/plain"].startswith('{\n  "a": [\n    1,')

    out = io.StringIO()
    text_view = TextView(out, clock=Clock(), choices=3)
    snap = three_choices()
    text_view.update(snap)
    text_view.finish(snap, FOOTER)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Choice 1 of 3 (the conversation continues from it):"
    assert "Choice 2 of 3 (%deepseek pick 2 continues from it):" in lines
    assert "**answer 3**" in lines and lines[-1].startswith("deepseek-v4-flash · 30 in")
    assert out.getvalue().count("deepseek-v4-flash · ") == 1


def test_f_json_displays_the_answer_once_as_json(shell: tuple[InteractiveShell, list[Any]]) -> None:
    ip, shown = shell
    ip.run_cell_magic("deepseek", "-f json --no-think -o data", "List two colours as JSON")
    assert isinstance(ip.user_ns["data"], dict)
    [answer] = shown  # once: not the answer and then the same JSON again
    pretty = json.dumps(ip.user_ns["data"], indent=2, ensure_ascii=False)
    assert text_of(answer).startswith(pretty + "\n\n") and "deepseek-v4-flash" in text_of(answer)
    assert '<code class="language-json evo-hl">' in html_of(answer)


def test_n_choices_are_displayed_as_one_answer(shell: tuple[InteractiveShell, list[Any]]) -> None:
    ip, shown = shell
    ip.run_cell_magic("deepseek", "-n 3 --no-think", "Say hi")
    [answer] = shown
    assert html_of(answer).count('<section class="evo-choice">') == 3
    assert html_of(answer).count('class="evo-footer"') == 1
    assert text_of(answer).count("Choice ") == 3


def logprob_entries(n: int) -> list[dict[str, Any]]:
    import math

    out = []
    for i in range(n):
        p = 0.95 if i % 7 else 0.12 + i / 10_000
        alts = [{"token": f"alt{i}_{k}", "logprob": math.log(p / (k + 2))} for k in range(3)]
        out.append({"token": f" tok{i}" if i % 5 else "\n", "logprob": math.log(p), "top_logprobs": alts})
    out.append({"token": "<script>", "logprob": -9999.0, "top_logprobs": []})
    return out


def test_logprobs_are_a_compact_view_not_a_table_row_per_token() -> None:
    from evo_magic.display.logprobs import LogprobsView

    view = LogprobsView(logprob_entries(214))
    html = view._repr_html_()
    assert html.count('<span class="evo-lp evo-lp') == 215  # every token, inline, shaded by probability
    assert html.count("<tr>") <= 11  # the least likely few, folded, not 214 rows
    assert "<details" in html and "&lt;script&gt;" in html and "<script" not in html
    assert 'title="tok1 · p 95.0 % · alternatives: alt1_0 47.5 %, alt1_1 31.7 %, alt1_2 23.8 %"' in html
    assert "not in the top 20" in html
    text = repr(view)
    lines = text.splitlines()
    assert len(lines) <= 7 and all(len(line) <= 100 for line in lines), text
    assert lines[0].startswith("Token log-probabilities: 215 tokens, median p 95.0 %")
    assert lines[1] == "Least likely: '<script>' not in the top 20"
    assert lines[2].startswith("              '\\n' 12.0 % (alternatives: 'alt0_0' 6.0 %")


def test_a_long_answer_shows_its_first_tokens_and_says_so() -> None:
    from evo_magic.display.logprobs import LogprobsView

    view = LogprobsView(logprob_entries(3000), limit=2000)
    assert view._repr_html_().count('<span class="evo-lp evo-lp') == 2000
    assert "first 2,000 of 3,001 tokens" in view._repr_html_() and "3,001 tokens" in repr(view)


def test_logprobs_come_after_the_answer_as_the_compact_view(shell: tuple[InteractiveShell, list[Any]]) -> None:
    from evo_magic.display.logprobs import LogprobsView

    ip, shown = shell
    ip.run_cell_magic("deepseek", "--no-think --logprobs --top-logprobs 3", "What is 2+2?")
    answer, view = shown
    assert "<strong>4</strong>" in html_of(answer) and isinstance(view, LogprobsView)
    assert len(view.tokens) > 3 and all(len(t.alternatives) <= 3 for t in view.tokens)


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
