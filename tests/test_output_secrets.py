"""The API key in the model's output (answer, thinking, tool arguments: a proxy or a prompt can
make the model repeat it) is masked as prompts are, in the cell, the history, the saved output
and the ledger, also when it comes split across deltas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import evo_magic
from evo_magic.core.deltas import SecretMask
from evo_magic.core.events import Event, Finished, ReasoningDelta, TextDelta, ToolCallDelta
from evo_magic.core.snapshot import accumulate
from evo_magic.errors import remember_secret, scrub
from evo_magic.runtime import root

from .streams import Turn, payloads, serve, sse

KEY = "evlk_OUTPUT7f6e5d4c3b2a"  # not shaped like sk-…: only remembering it masks it
MASKED = "****3b2a"


def masked_text(pieces: list[str]) -> str:
    mask = SecretMask()
    events: list[Event] = [TextDelta(p) for p in pieces]
    return accumulate([*mask.feed(events), *mask.flush()]).text


def test_the_key_split_anywhere_across_deltas_is_masked() -> None:
    remember_secret(KEY)
    text = f"a {KEY} b {KEY}{KEY} {KEY[:-1]} c"
    want = scrub(text)
    assert KEY not in want and want.count(MASKED) == 3
    for i in range(len(text) + 1):
        assert masked_text([text[:i], text[i:]]) == want, i
        for j in range(i, min(len(text), i + 30) + 1):
            assert masked_text([text[:i], text[i:j], text[j:]]) == want, (i, j)
    assert masked_text(list(text)) == want  # one character per delta


def test_only_a_tail_that_could_start_the_key_is_held_back() -> None:
    remember_secret(KEY)
    mask = SecretMask()
    assert mask.feed([TextDelta("plain text, nothing held")]) == [TextDelta("plain text, nothing held")]
    assert mask.feed([TextDelta("the key is evlk_OUT")]) == [TextDelta("the key is ")]
    assert mask.feed([TextDelta("SIDER said")]) == [TextDelta("evlk_OUTSIDER said")]  # not the key after all
    held = mask.feed([TextDelta("x evl"), ReasoningDelta("evlk_", block=1), ToolCallDelta(0, "c", "f", "{evlk")])
    assert held == [TextDelta("x "), ReasoningDelta("", block=1), ToolCallDelta(0, "c", "f", "{")]
    assert mask.feed([Finished("stop")]) == [Finished("stop")]
    assert mask.flush() == [TextDelta("evl"), ReasoningDelta("evlk_", block=1), ToolCallDelta(0, arguments="evlk")]
    assert mask.flush() == []


# --- end to end: a %%deepseek cell with a tool loop, on both protocols -------------------------
ROUND_1 = Turn(
    text=[f"Using {KEY[:3]}", f"{KEY[3:]}."],
    reasoning=[f"the key is {KEY[:7]}", f"{KEY[7:]} ok"],
    calls=[("call_1", "echo", ['{"s": "' + KEY[:10], KEY[10:] + '"}'])],
)
ROUND_2 = Turn(text=[f"Done: {KEY[:12]}", f"{KEY[12:]} !"], reasoning=[f"{KEY[:1]}", f"{KEY[1:]}"])


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("EVOLINK_API_KEY", KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/output-secrets.ipynb")
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    yield ip
    ip.extension_manager.unload_extension("evo_magic")


@pytest.mark.parametrize("live", ["none", "text"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_key_in_the_models_output_is_masked_everywhere(shell: InteractiveShell, protocol: str, live: str) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[bytes]:
        bodies.append(body)
        raw = sse(protocol, payloads(protocol, ROUND_1 if len(bodies) == 1 else ROUND_2))
        return [raw[i : i + 7] for i in range(0, len(raw), 7)]

    root().transport_options = {"http_transport": serve(answer)}
    received: list[str] = []
    shell.user_ns["echo"] = lambda s: received.append(s) or s
    shell.run_line_magic("config", f"DeepSeekMagics.live = {live!r}")
    with capture_output() as cell:
        result = shell.run_cell(f"%%deepseek --protocol {protocol} --tools echo -o r\nWhat is my key?")
    result.raise_error()
    reply = shell.user_ns["r"]
    assert reply.ok and len(bodies) == 2
    assert (reply.text, reply.reasoning) == (f"Done: {MASKED} !", f"{MASKED}")
    assert received == [MASKED]  # what the tool loop passes on
    first = reply.rounds[0]
    assert (first.text, first.reasoning, first.tool_calls[0].arguments) == (
        f"Using {MASKED}.", f"the key is {MASKED} ok", f'{{"s": "{MASKED}"}}')
    shown = cell.stdout + "".join(json.dumps(o.data, ensure_ascii=False) for o in cell.outputs)
    assert MASKED in shown and f"Done: {MASKED}" in shown
    history = shell.run_line_magic("deepseek", "history")
    turns = root().registry.get().turns
    (stored,) = root().accounting.ledger.turns("/work/output-secrets.ipynb", "default")
    kept = {
        "sent back": json.dumps(bodies[1], ensure_ascii=False),  # the request the tool loop made
        "reply": repr(reply) + reply._repr_html_(),
        "history": repr(history) + history._repr_html_(),
        "turns": repr(turns) + json.dumps([m.to_record() for t in turns for m in t.messages], ensure_ascii=False),
        "ledger": json.dumps(stored[1].__dict__, ensure_ascii=False),
    }
    for where, text in {"cell": shown, **kept}.items():
        assert KEY not in text, where
    assert kept["ledger"].count(MASKED) >= 5  # answer, thinking and arguments of both rounds


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_answer_ending_in_what_could_start_the_key_keeps_its_end(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    turn = Turn(text=["see e", "vlk_OUT"], reasoning=["e"], calls=[("call_1", "f", ['{"a": "evlk'])])
    root().transport_options = {"http_transport": serve(lambda body: [sse(protocol, payloads(protocol, turn))])}
    reply = evo_magic.session().ask("go", protocol=protocol)
    assert (reply.text, reply.reasoning, reply.tool_calls[0].arguments) == ("see evlk_OUT", "e", '{"a": "evlk')


def test_over_loopback_the_emulator_can_say_it_split_at_utf16_boundaries(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's "say" fault (a proxy cutting text at UTF-16 boundaries and making the model
    repeat the key): one code unit per event, so the emoji's halves and the key are split."""
    from .conftest import use_emulator

    use_emulator(monkeypatch, emulator.url, "/work/said.ipynb", KEY)
    for protocol in ("openai", "anthropic"):
        emulator.fail_next("say", text=f"A😀B {KEY} ")
        reply = evo_magic.session().ask("What is 2+2?", protocol=protocol)
        assert reply.ok and reply.text.startswith(f"A😀B {MASKED} ") and reply.reasoning.startswith(f"A😀B {MASKED} ")
        assert KEY not in json.dumps(emulator.requests[-1])  # nothing sent back holds it either
    emulator.fail_next("say", text="x")  # a non-streamed answer is left as it is
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    answer = httpx.post(emulator.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"})
    assert not answer.json()["choices"][0]["message"]["content"].startswith("x")
