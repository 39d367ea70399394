"""Kernel-level tests: the magics in a real IPython kernel against the emulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def emu() -> Iterator[object]:
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=None) as e:
        yield e


@pytest.fixture(scope="module")
def slow_emu() -> Iterator[object]:
    from evo_magic.emulator import Emulator

    with Emulator(tokens_per_second=200) as e:
        yield e


@pytest.fixture(scope="module")
def kernel(emu: object) -> Iterator[Kernel]:
    k = Kernel({"EVOLINK_API_KEY": "sk-kernel-test-4242", "EVOLINK_BASE_URL": emu.url})  # type: ignore[attr-defined]
    assert k.execute("%load_ext evo_magic").ok
    yield k
    k.close()


def test_cell_streams_answer_with_thinking_and_footer(kernel: Kernel) -> None:
    ex = kernel.execute("%%deepseek\nWhat is 2+2?")
    assert ex.ok, ex.error_text
    html = ex.final_html()
    assert "4" in html
    assert "<details" in html and "<details open" not in html  # thinking folded at the end
    assert "deepseek-v4-flash" in html and "cached" in html and "reasoning" in html
    assert ex.of_type("comm_open") or ex.of_type("display_data")
    assert "sk-kernel-test" not in str(ex.messages)


def test_next_cell_continues_the_conversation(kernel: Kernel, emu: object) -> None:
    kernel.execute("%deepseek reset")
    before = len(emu.requests)  # type: ignore[attr-defined]
    assert kernel.execute("%%deepseek\nName three sorting algorithms.").ok
    assert kernel.execute("%%deepseek -o r\nWhich of them is stable?").ok
    first, second = emu.requests[before:]  # type: ignore[attr-defined]
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assistant = second["messages"][len(first["messages"])]
    assert assistant["role"] == "assistant" and assistant["reasoning_content"]
    check = kernel.execute(
        "print(type(r).__name__, r.model, r.usage.prompt_tokens > 0, r.usage.cache_hit_tokens >= 0, bool(r.reasoning))"
    )
    assert "Reply deepseek-v4-flash True True True" in check.text()


def test_twenty_cells_reuse_one_connection(kernel: Kernel, emu: object) -> None:
    kernel.execute("%deepseek reset -s reuse")
    assert kernel.execute("%%deepseek -s reuse --no-think\nwarm up").ok
    before = emu.accepted_connections  # type: ignore[attr-defined]
    for i in range(20):
        ex = kernel.execute(f"%%deepseek -s reuse --no-think --new\nQuestion number {i}")
        assert ex.ok, ex.error_text
    assert emu.accepted_connections - before == 0  # type: ignore[attr-defined]


def test_no_think_and_options_reach_the_wire(kernel: Kernel, emu: object) -> None:
    assert kernel.execute(
        "%%deepseek --no-think -m deepseek-v4-pro --temperature 0.2 --max-tokens 300 --new\nhi"
    ).ok
    body = emu.requests[-1]  # type: ignore[attr-defined]
    assert body["thinking"] == {"type": "disabled"} and body["model"] == "deepseek-v4-pro"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 300


def test_misuse_shows_one_line_and_sends_nothing(kernel: Kernel, emu: object) -> None:
    before = len(emu.requests)  # type: ignore[attr-defined]
    ex = kernel.execute("%%deepseek --temperature 9\nhi")
    assert not ex.ok
    assert len(ex.error_text.strip().splitlines()) == 1 and "temperature" in ex.error_text
    assert len(emu.requests) == before  # type: ignore[attr-defined]


def test_api_error_is_one_line_and_session_stays_usable(kernel: Kernel, emu: object) -> None:
    kernel.execute("%deepseek reset -s err")
    sent = len(emu.requests)  # type: ignore[attr-defined]
    ex = kernel.execute("%%deepseek -s err -m deepseek-v4-nonexistent\nhi")  # refused before sending
    assert not ex.ok and "unknown model" in ex.error_text and len(emu.requests) == sent  # type: ignore[attr-defined]
    refused = kernel.execute("%config DeepSeekMagics.model = 'deepseek-v4-flsh'")
    text = (refused.error_text + refused.text()).strip()
    assert "did you mean 'deepseek-v4-flash'" in text and "ERROR:root" not in text, text
    assert len(text.splitlines()) == 1, text
    assert kernel.execute("%config DeepSeekMagics.extra_models = ['deepseek-v4-nonexistent']").ok
    ex = kernel.execute("%%deepseek -s err -m deepseek-v4-nonexistent\nhi")  # allowed: the API answers
    kernel.execute("%config DeepSeekMagics.extra_models = []")
    assert not ex.ok
    assert len(ex.error_text.strip().splitlines()) == 1, ex.error_text
    assert "Model Not Exist" in ex.error_text
    assert kernel.execute("%%deepseek -s err\nhello again").ok
    hist = kernel.execute("print(len(__import__('evo_magic').session('err').history))")
    assert hist.text().strip() == "2"


def test_history_and_config_commands(kernel: Kernel) -> None:
    kernel.execute("%deepseek reset -s h")
    kernel.execute("%%deepseek -s h\nFirst question")
    ex = kernel.execute("%deepseek history -s h")
    assert "First question" in ex.text() and "In[" in ex.text()
    cfg = kernel.execute("%deepseek config")
    assert "4242" in cfg.text() and "sk-kernel" not in cfg.text()


def test_interrupt_stops_stream_fast_and_keeps_partial(slow_emu: object) -> None:
    k = Kernel({"EVOLINK_API_KEY": "sk-kernel-test-4242", "EVOLINK_BASE_URL": slow_emu.url})  # type: ignore[attr-defined]
    try:
        assert k.execute("%load_ext evo_magic").ok
        ex = k.execute(
            "%%deepseek --no-think\nWrite an essay of 3000 words about rivers.", interrupt_after=1.5
        )
        assert not ex.ok
        assert ex.interrupt_latency is not None and ex.interrupt_latency < 0.5, ex.interrupt_latency
        assert "Interrupted" in ex.error_text and len(ex.error_text.strip().splitlines()) == 1
        assert "characters) is kept above." in ex.error_text, ex.error_text
        html = ex.final_html()
        assert len(html) > 200 and "Interrupted" not in html  # one message: the line under the answer
        after = k.execute("print(len(__import__('evo_magic').session().history))")
        assert after.text().strip() == "0"  # no half turn
        assert k.execute("%%deepseek --no-think\nshort one: what is 2+2?").ok
    finally:
        k.close()


def test_offline_command_in_a_kernel_without_key(tmp_path: object) -> None:
    k = Kernel({})
    try:
        assert k.execute("%load_ext evo_magic").ok
        no_key = k.execute("%%deepseek\nhi")
        assert "EVOLINK_API_KEY" in no_key.error_text
        ex = k.execute("%deepseek offline --if-no-key --rate 5000")
        assert "emulator" in ex.text()
        ans = k.execute("%%deepseek\nWhat is 2+2?")
        assert ans.ok, ans.error_text
        assert "4" in ans.final_html()
    finally:
        k.close()


def test_cells_are_named_as_the_user_sees_them(kernel: Kernel) -> None:
    """IPython 9 counts the next cell while one runs (8 counted after): history, the ledger and
    the chart's tooltips must name the cell the front end shows as In[N]."""
    kernel.execute("%deepseek reset -s cells")
    ex = kernel.execute("%%deepseek -s cells --no-think\nWhich cell is this?")
    assert ex.ok, ex.error_text
    shown = ex.reply["content"]["execution_count"]  # the N of In[N] beside the cell
    (announced,) = [m["content"]["execution_count"] for m in ex.of_type("execute_input")]
    assert shown == announced
    history = kernel.execute("%deepseek history -s cells").text()
    assert f"In[{shown}]" in history and f"In[{shown + 1}]" not in history, history
    check = kernel.execute(
        "import evo_magic\n"
        "print(evo_magic.session('cells').turns[-1].cell, [r.cell for r in evo_magic.usage() if r.session == 'cells'])\n"
        "print('chart' , 'cell %d' % evo_magic.usage()[-1].cell)"
    )
    assert check.text().split("\n")[0] == f"{shown} [{shown}]", check.text()
    assert f"cell {shown}" in kernel.execute("%deepseek usage").final_html()
