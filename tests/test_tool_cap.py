"""One round of tool calls is bounded: past ``max_tool_calls`` calls are not run, each still
gets a tool result (the protocols need one per call id), and the answer says the cap cut in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets import TraitError

import evo_magic
from evo_magic import errors
from evo_magic.runtime import root
from evo_magic.sessions.tools import DEFAULT_MAX_TOOL_CALLS

from .streams import Turn, payloads, serve, sse


class Api:
    """Round 1 asks for ``calls`` calls of ``ping``; every later request gets a plain answer.
    ``again(calls)`` starts over (a session keeps its transport, so the fake stays the same)."""

    def __init__(self, protocol: str, calls: int) -> None:
        self.protocol = protocol
        self.again(calls)

    def again(self, calls: int) -> Api:
        self.calls, self.bodies = calls, []
        self.ids = [f"call_{id(self.bodies)}_{i}" for i in range(calls)]  # unique to this question
        return self

    def __call__(self, body: dict[str, Any]) -> list[bytes]:
        self.bodies.append(body)
        if len(self.bodies) == 1:
            turn = Turn(calls=[(cid, "ping", ['{"n": ', f"{i}}}"]) for i, cid in enumerate(self.ids)])
        else:
            turn = Turn(text=["All ", "done."])
        return [sse(self.protocol, payloads(self.protocol, turn))]

    def results(self) -> list[str]:
        """The results of this question's calls that the second request carried, in order."""
        messages = self.bodies[1]["messages"]
        if self.protocol == "openai":
            found = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
        else:
            blocks = [b for m in messages if isinstance(m["content"], list) for b in m["content"]]
            found = {b["tool_use_id"]: b["content"] for b in blocks if b["type"] == "tool_result"}
        assert list(found)[-len(self.ids):] == self.ids  # one result per call, in order
        return [found[cid] for cid in self.ids]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-tool-cap-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")


def use(api: Api) -> Api:
    root().transport_options = {"http_transport": serve(api)}
    return api


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_ten_thousand_calls_in_one_round_run_only_up_to_the_cap(env: None, protocol: str) -> None:
    api = use(Api(protocol, 10_000))
    ran: list[int] = []
    seen: list[str] = []

    def ping(n: int) -> int:
        ran.append(n)
        return n

    reply = evo_magic.session().ask("go", protocol=protocol, tools=[ping], on_tool=lambda c, t, ok: seen.append(c.id))
    assert DEFAULT_MAX_TOOL_CALLS == 32
    assert ran == list(range(32)) and seen == api.ids[:32]
    results = api.results()
    assert len(results) == 10_000 and results[:32] == [str(i) for i in range(32)]
    assert set(results[32:]) == {
        "Error: not run: this round has 10,000 tool calls and at most 32 run per round "
        "(max_tool_calls); make fewer calls at a time."
    }
    assert reply.ok and reply.text == "All done."
    notice = "The model made 10,000 tool calls in one round: the first 32 ran, the other 9,968 were not run (max_tool_calls = 32)."
    assert reply.notes == [notice] and reply.notice == notice
    assert notice in reply._repr_html_() and notice in repr(reply)  # the answer's banner says so, once
    assert len(evo_magic.session().history) == 10_003  # question, calls, every result, answer


def test_the_cap_is_set_per_call_and_kernel_wide(env: None) -> None:
    def ping(n: int) -> int:
        return n

    api = use(Api("openai", 5))
    reply = evo_magic.session().ask("go", tools=[ping], max_tool_calls=2)
    assert [r.startswith("Error: not run") for r in api.results()] == [False, False, True, True, True]
    assert reply.notes == ["The model made 5 tool calls in one round: the first 2 ran, the other 3 were not run "
                           "(max_tool_calls = 2)."]
    root().set_default('max_tool_calls', 4)
    api.again(5)
    evo_magic.session().ask("again", tools=[ping])
    assert [r.startswith("Error: not run") for r in api.results()] == [False] * 4 + [True]
    api.again(4)
    reply = evo_magic.session().ask("exactly", tools=[ping])  # at the cap: everything runs, nothing said
    assert not any(r.startswith("Error") for r in api.results()) and reply.notes == [] and reply.notice is None


@pytest.mark.parametrize("bad", [0, -1])
def test_a_cap_below_one_is_refused_before_sending(env: None, bad: int) -> None:
    api = use(Api("openai", 1))

    def ping() -> str:
        return "pong"

    with pytest.raises(errors.OptionError, match=f"max_tool_calls must be at least 1, not {bad}"):
        evo_magic.session().ask("go", tools=[ping], max_tool_calls=bad)
    assert api.bodies == []


# --- the magic: --max-tool-calls N and %config DeepSeekMagics.max_tool_calls ----------------------
@pytest.fixture
def shell(env: None) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    ip.user_ns["ping"] = lambda n: n
    yield ip
    ip.run_line_magic("config", f"DeepSeekMagics.max_tool_calls = {DEFAULT_MAX_TOOL_CALLS}")
    ip.extension_manager.unload_extension("evo_magic")


def test_the_cell_option_and_the_config_trait(shell: InteractiveShell) -> None:
    api = use(Api("openai", 6))
    with capture_output() as cell:
        shell.run_cell_magic("deepseek", "--tools ping --max-tool-calls 3", "go")
    assert sum(not r.startswith("Error") for r in api.results()) == 3
    shown = "".join(json.dumps(o.data) for o in cell.outputs)
    assert shown.count("the first 3 ran, the other 3 were not run (max_tool_calls = 3)") == 2  # html + text
    shell.run_line_magic("config", "DeepSeekMagics.max_tool_calls = 5")
    assert root().defaults.loop.max_tool_calls == 5
    assert ["max_tool_calls", "5 per round"] in shell.run_line_magic("deepseek", "config").rows
    api.again(6)
    shell.run_cell_magic("deepseek", "--tools ping", "again")
    assert sum(not r.startswith("Error") for r in api.results()) == 5
    magics = next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")
    with pytest.raises(TraitError, match="max_tool_calls must be at least 1, not 0"):
        magics.max_tool_calls = 0
    assert "--max-tool-calls N" in shell.run_line_magic("deepseek", "help").text


@pytest.mark.parametrize("line", ["--tools ping --max-tool-calls 0", "--tools ping --max-tool-calls x",
                                  "--max-tool-calls 3"])
def test_a_bad_cell_option_is_a_one_line_usage_error(shell: InteractiveShell, line: str) -> None:
    api = use(Api("openai", 1))
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("deepseek", line, "go")
    assert "\n" not in str(info.value).strip() and api.bodies == []
