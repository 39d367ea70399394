"""Ctrl-C (a kernel interrupt) while an answer streams: one clear message, right about what was
kept. The message is the :class:`~evo_magic.sessions.reply.Interrupted` traceback line, which IPython
shows once in a terminal and JupyterLab once under the cell; the answer above it carries no
second banner."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

import evo_magic
from evo_magic.core.events import ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import TurnSnapshot
from evo_magic.display.live import TextView, WidgetView
from evo_magic.sessions.reply import Interrupted, Reply, Timing

from ..display.helpers import Clock, FakeHandle, FakeWidget
from .helpers import FakeApi, sse_chunks


def interrupted(reasoning: str = "", text: str = "", *, shown: bool = True) -> Interrupted:
    snap = TurnSnapshot()
    if reasoning:
        snap.apply(ReasoningDelta(reasoning))
    if text:
        snap.apply(TextDelta(text))
    reply = Reply(snap, "m", "default", Timing(0.0, end=1.0), status="interrupted")
    return Interrupted(reply, shown=shown)


@pytest.mark.parametrize(
    ("reasoning", "text", "line"),
    [
        ("Let me think", "x" * 1234, "Interrupted: the partial answer (1,234 characters) and its thinking are kept above."),
        ("", "half an ", "Interrupted: the partial answer (8 characters) is kept above."),
        ("Let me think", "", "Interrupted while thinking: the thinking so far (12 characters) is kept above; no answer yet."),
        ("", "", "Interrupted: nothing had arrived yet."),
    ],
)
def test_the_line_says_what_was_kept(reasoning: str, text: str, line: str) -> None:
    assert interrupted(reasoning, text)._render_traceback_() == [line]


def test_without_a_live_view_the_partial_answer_is_on_the_exception() -> None:
    line = interrupted("", "half an ", shown=False)._render_traceback_()
    assert line == ["Interrupted: the partial answer (8 characters) is kept in this exception's .reply."]
    assert interrupted(shown=False)._render_traceback_() == ["Interrupted: nothing had arrived yet."]


def test_a_partial_tool_call_counts_as_the_answer() -> None:
    exc = interrupted()
    exc.reply.snapshot.apply(ToolCallDelta(0, "c1", "weather", '{"city": "Os'))
    assert exc._render_traceback_() == ["Interrupted: the partial answer (a tool call) is kept above."]


def interrupt_after(api: FakeApi, text: str, reasoning: str = "") -> None:
    """The next answer streams ``reasoning`` and ``text``, then the user presses Ctrl-C."""

    class Stream(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            delta: dict[str, Any] = {"content": text or None}
            if reasoning:
                delta["reasoning_content"] = reasoning
            yield sse_chunks({"id": "x", "model": "m", "choices": [{"index": 0, "delta": delta}]}, done=False)
            raise KeyboardInterrupt

    api.script.append(httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream()))


def test_a_cell_shows_the_message_once_under_the_answer(api: FakeApi) -> None:
    interrupt_after(api, "half an ", reasoning="Let me think")
    handle = FakeHandle()
    with pytest.raises(Interrupted) as info:
        evo_magic.session().ask("q", view=WidgetView(FakeWidget(), handle, clock=Clock()))
    html = handle.updates[-1][0]["text/html"]
    assert "half an" in html and "Let me think" in html  # the partial answer and its thinking, above
    assert "Interrupted" not in html and 'class="evo-banner' not in html  # no second message in the answer
    assert info.value._render_traceback_() == [
        "Interrupted: the partial answer (8 characters) and its thinking are kept above."
    ]
    assert info.value.reply.status == "interrupted"
    assert "Interrupted" in info.value.reply._repr_html_()  # shown on its own, the reply says so


def test_a_terminal_shows_the_message_once(api: FakeApi) -> None:
    interrupt_after(api, "half an ")
    out = io.StringIO()
    with pytest.raises(Interrupted) as info:
        evo_magic.session().ask("q", view=TextView(out))
    assert "half an " in out.getvalue() and "Interrupted" not in out.getvalue()
    assert info.value._render_traceback_() == ["Interrupted: the partial answer (8 characters) is kept above."]


def test_the_python_api_points_at_the_exception(api: FakeApi) -> None:
    interrupt_after(api, "half an ")
    with pytest.raises(Interrupted) as info:
        evo_magic.session().ask("q")
    assert "kept in this exception's .reply" in info.value._render_traceback_()[0]
    assert info.value.reply.text == "half an "


# --- the banner of an answer cut at max_tokens ----------------------------------------------


def cut_reply(text: str, notes: list[str], max_tokens: int | None = 4096) -> Reply:
    from evo_magic.core.events import Finished, UsageReported
    from evo_magic.core.options import RequestOptions
    from evo_magic.core.usage import Usage

    snap = TurnSnapshot()
    for event in (ReasoningDelta("Let me think"), TextDelta(text), UsageReported(Usage(97, 0, 97, 4096, 3900))):
        snap.apply(event)
    snap.apply(Finished("length"))
    opts = RequestOptions(max_tokens=max_tokens)
    return Reply(snap, "m", "default", Timing(0.0, end=1.0), status="length", notes=notes, options=opts)


def test_a_cut_answer_says_so_in_words_with_the_request_limit_then_the_notes() -> None:
    cap = "The model asked for 40 tool calls in one round: 32 ran, 8 were not run (max_tool_calls)."
    reply = cut_reply("The answer beg", [cap])
    said = "cut at 4,096 tokens: 3,900 went to thinking — %deepseek continue, or raise --max-tokens"
    assert reply.notice == f"{said}. {cap}"
    assert f"[{said}. {cap}]" in repr(reply)
    assert (
        "cut at 4,096 tokens: 3,900 went to thinking — <code>%deepseek continue</code>, or raise "
        f"<code>--max-tokens</code>. {cap}</div>"
    ) in reply._repr_html_()
    assert "Stopped at max_tokens" not in repr(reply) + reply._repr_html_()


def test_an_empty_cut_answer_says_there_is_no_answer() -> None:
    reply = cut_reply("", [], max_tokens=None)  # the API's default limit: the usage names it
    assert reply.notice == "no answer: cut at 4,096 tokens, 3,900 went to thinking — %deepseek continue, or raise --max-tokens"
