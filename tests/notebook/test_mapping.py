"""%%deepseek --map NAME (the cell form of evo_magic.map), --estimate, --schema, --concurrency,
against the emulator; misuse is one line, before any request."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.batch.plan import Estimate
from evo_magic.emulator import Emulator

from ..conftest import use_emulator

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


@pytest.fixture
def ip(emu: Emulator, monkeypatch: pytest.MonkeyPatch):
    use_emulator(monkeypatch, emu.url, "/work/cells.ipynb")
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("evo_magic")
    shell.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    shell.user_ns.update(reviews=pd.DataFrame({"text": ["great", "awful", "meh"]}), labels=["pos", "neg"])
    yield shell
    shell.extension_manager.unload_extension("evo_magic")


def cell(ip: InteractiveShell, line: str, body: str):
    return ip.run_cell_magic("deepseek", line, body)


def test_the_body_is_the_row_template_with_notebook_values_interpolated_once(ip, emu: Emulator) -> None:
    sent = len(emu.requests)
    cell(ip, "--map reviews -o out --no-think --max-tokens 10 --concurrency 2", "Pick one of {labels} for: {text}")
    out = ip.user_ns["out"]
    assert out.text.tolist() == ["great", "awful", "meh"] and out.answer.notna().all()
    bodies = emu.requests[sent:]
    assert len(bodies) == 3 and {b["messages"][0]["content"] for b in bodies} == {
        "Pick one of ['pos', 'neg'] for: {text}\n\nThe user message is the {text}."}
    assert all(b["max_tokens"] == 10 for b in bodies)


def test_without_o_the_table_is_the_cells_value_after_the_summary(ip, emu: Emulator, monkeypatch) -> None:
    """``%%deepseek --map reviews`` without -o showed the summary and dropped the table: it is the
    cell's output (``Out[n]``, ``_``), as the result of ``evo_magic.map`` would be."""
    shown: list[object] = []
    monkeypatch.setattr("evo_magic.notebook.mapping.display", shown.append)
    out = cell(ip, "--map reviews --no-think --max-tokens 10", "Say {text}")
    assert out is not None and out.text.tolist() == ["great", "awful", "meh"] and out.answer.notna().all()
    assert shown == [out.attrs["evo_magic"]]
    stored = cell(ip, "--map reviews -o kept --no-think --max-tokens 10", "Say {text}")
    assert stored is None and ip.user_ns["kept"].answer.tolist() == out.answer.tolist()  # -o: stored, not echoed
    result = ip.run_cell("%%deepseek --map reviews --no-think --max-tokens 10\nSay {text}")
    assert result.result is not None and result.result.answer.tolist() == out.answer.tolist()


def test_estimate_sends_nothing_and_stores_the_estimate(ip, emu: Emulator) -> None:
    sent = len(emu.requests)
    cell(ip, "--map reviews --estimate -o plan --no-think", "Say {text}")
    assert isinstance(ip.user_ns["plan"], Estimate) and ip.user_ns["plan"].rows == 3 and len(emu.requests) == sent


def test_schema_on_a_map_cell_and_on_a_plain_cell(ip, emu: Emulator) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Verdict(pydantic.BaseModel):
        answer: str
        score: int

    ip.user_ns["Verdict"] = Verdict
    cell(ip, "--map reviews --schema Verdict -o rated --no-think", "Rate {text}")
    assert list(ip.user_ns["rated"].columns[1:3]) == ["answer", "score"]
    cell(ip, "--schema Verdict -o v --no-think", "Rate this notebook")
    assert isinstance(ip.user_ns["v"], Verdict) and emu.requests[-1]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("line,body,message", [
    ("--map nope -o x", "Say {text}", "--map: no variable named 'nope' in the notebook"),
    ("--map reviews -o x", "Say {txt}", "{txt}: 'txt' is neither a notebook variable nor a column"),
    ("--map reviews -o x", "   ", "the --map cell has no template"),
    ("--map reviews --tools f", "Say {text}", "--tools does not go with --map"),
    ("--estimate", "Say {text}", "--estimate and --concurrency go with --map NAME"),
    ("--map reviews --concurrency 0", "Say {text}", "argument --concurrency"),
    ("--map reviews --temperature 9", "Say {text}", "temperature must be between 0 and 2"),
    ("--schema Nope", "Rate", "--schema: no variable named 'Nope'"),
])  # fmt: skip
def test_misuse_is_one_line_before_any_request(ip, emu: Emulator, line: str, body: str, message: str) -> None:
    sent = len(emu.requests)
    with pytest.raises(UsageError) as info:
        cell(ip, line, body)
    assert message in str(info.value) and "\n" not in str(info.value) and len(emu.requests) == sent
