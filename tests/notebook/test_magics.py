"""Magic parsing and misuse, in an in-process IPython shell (no kernel, no network)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets import TraitError

import evo_magic
from evo_magic.errors import OptionError
from evo_magic.runtime import root
from evo_magic.sessions.tools import DEFAULT_MAX_TOOL_CALLS

from ..keys import ENV_KEY, MASKED, OUTPUT_KEY
from ..sessions.helpers import Api, use
from ..streams import Turn, payloads, serve, sse, sse_answer
from .helpers import magics_of


@pytest.mark.parametrize(
    "line",
    [
        "--temperature 3",
        "--temperature hot",
        "--max-tokens 0",
        "--max-tokens 400000",
        "-m gpt-4o",
        "--think --no-think",
        "--bogus-flag",
        "-m deepseek-reasoner --temperature 0.5",
        "-m deepseek-chat --think",
        "-o 1notavar",
        "-o class",
        "-o None",
        "--tools no_such_function",
        "--tools __name__",
        "--logit-bias nonsense",
        "--logit-bias 12:500",
        "--top-logprobs 3",
        "--logprobs --top-logprobs 21",
        "-n 9",
        "--top-p 1.5",
        "--frequency-penalty -3",
        "--effort extreme",
        "--effort high --no-think",
        "--tool-choice required",
        "--protocol grpc",
        "-m deepseek-reasoner --json",
        "--max-tool-rounds 0",
        "--max-tool-rounds -1",
        "--max-tool-rounds many",
        "--protocol anthropic -n 2",
        "--protocol anthropic --logprobs",
        "--protocol anthropic --frequency-penalty 1",
        "--protocol anthropic --json",
        "--protocol anthropic --seed 7",
        "-m deepseek-chat --effort low",
        "--tool-choice auto",
        "--approve",
        "--max-tool-rounds 3",
        "--no-think --tools sorted --tool-choice len",
    ],
)
def test_misuse_is_a_one_line_usage_error(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("deepseek", line, "a prompt")
    assert "\n" not in str(info.value).strip()


def test_empty_cell(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    with pytest.raises(UsageError, match="no prompt"):
        shell.run_cell_magic("deepseek", "", "   \n ")


def test_no_key_says_how_to_set_one_or_go_offline(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("deepseek", "", "hello")
    assert "EVOLINK_API_KEY" in str(info.value) and "%deepseek offline" in str(info.value)


def test_percent_config_sets_defaults(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-pro'")
    assert root().defaults.request.model == "deepseek-v4-pro"
    assert root().registry.get().options().model == "deepseek-v4-pro"
    shell.run_line_magic("config", "DeepSeekMagics.thinking = False")
    assert root().registry.get().options().thinking is False
    from traitlets import TraitError

    magics = next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")
    with pytest.raises(TraitError):
        magics.model = "not-a-model"
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-flash'")
    shell.run_line_magic("config", "DeepSeekMagics.thinking = None")


def test_each_model_thinks_by_its_own_default_unless_told(shell: InteractiveShell) -> None:

    s = root().registry.get()
    assert s.options().thinking is None and s.options().thinking_on  # V4: on
    chat = s.options(model="deepseek-chat").validate()  # the documented legacy model just works
    assert chat.thinking_on is False
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-chat'")
    try:
        assert s.options().validate().thinking_on is False
        with pytest.raises(OptionError, match="deepseek-chat never thinks, so it takes no reasoning effort"):
            s.options(reasoning_effort="low", thinking=False).validate()
        shell.run_line_magic("config", "DeepSeekMagics.thinking = True")  # told: then it is a misuse
        with pytest.raises(OptionError, match="deepseek-chat never thinks"):
            s.options().validate()
    finally:
        shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-flash'")
        shell.run_line_magic("config", "DeepSeekMagics.thinking = None")


def test_interpolation_of_values_in_prompt(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.user_ns["rows"] = list(range(3))
    shell.run_cell_magic("deepseek", "--new", "Sum {rows} and {len(rows)} {{not this}}")
    assert answering[-1]["messages"][-1]["content"] == "Sum [0, 1, 2] and 3 {not this}"
    shell.run_cell_magic("deepseek", "--no-interpolate --new", "Keep {rows}")
    assert answering[-1]["messages"][-1]["content"] == "Keep {rows}"
    with pytest.raises(UsageError, match="no variable named 'nope'"):
        shell.run_cell_magic("deepseek", "", "what is {nope}")


def test_format_code_puts_code_in_next_cell(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.rl_next_input = None  # type: ignore[attr-defined]
    shell.run_cell_magic("deepseek", "-f code --new", "write code")
    assert shell.rl_next_input == "x = 1\nprint(x + 1)"  # type: ignore[attr-defined]


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), -1.0])
def test_budget_trait_rejects_non_finite_and_negative(shell: InteractiveShell, amount: float) -> None:
    from traitlets import TraitError

    with pytest.raises(TraitError, match="positive amount of USD"):
        magics_of(shell).budget = amount
    assert magics_of(shell).budget is None
    magics_of(shell).budget = 2.5  # a finite positive amount still works
    assert magics_of(shell).budget == 2.5
    magics_of(shell).budget = None


@pytest.mark.parametrize(
    ("trait", "bad", "good"),
    [
        ("read_timeout", -1.0, 30.0),
        ("read_timeout", float("nan"), 30.0),
        ("connect_timeout", 0.0, 2.5),
        ("connect_timeout", float("inf"), 2.5),
        ("max_retries", -5, 0),
        ("value_tokens", 0, 20),
        ("value_tokens", -1, 5000),
        ("offline_rate", -1.0, 200.0),
        ("offline_rate", 0.0, 200.0),
    ],
)
def test_config_traits_are_validated(shell: InteractiveShell, trait: str, bad: float, good: float) -> None:
    from traitlets import TraitError

    magics = magics_of(shell)
    before = getattr(magics, trait)
    with pytest.raises(TraitError, match=trait) as info:
        setattr(magics, trait, bad)
    assert "\n" not in str(info.value)
    assert getattr(magics, trait) == before
    shell.run_line_magic("config", f"DeepSeekMagics.{trait} = float('{bad}')")
    assert getattr(magics, trait) == before  # %config reports the error, keeps the value
    shell.config.DeepSeekMagics.pop(trait, None)  # IPython keeps the refused value in its config
    setattr(magics, trait, good)
    assert getattr(magics, trait) == good
    setattr(magics, trait, before)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("'unclosed", "cannot parse the line: No closing quotation"),
        ("--system \"be terse", "cannot parse the line"),
        ("--stop ''", "stop sequences must not be empty"),
        ("-s ''", "a session name cannot be empty"),
        ("-s '  '", "a session name cannot be empty"),
        # options a request would drop
        ("--protocol anthropic -n 2", re.escape("the Anthropic protocol has no n (-n)")),
        ("--protocol anthropic --logprobs", re.escape("no logprobs (--logprobs)")),
        ("--protocol anthropic -f json", re.escape("no json_mode (--json (or -f json))")),
        ("--approve", "--approve needs tools"),
        ("--no-think --tools double --tool-choice triple", re.escape("'triple' is not a tool offered here (double)")),
    ],
)
def test_cell_options_are_split_like_a_shell_and_checked(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    shell.user_ns["double"] = lambda x: 2 * x
    with pytest.raises(UsageError, match=message) as info:
        shell.run_cell_magic("deepseek", line, "a prompt")
    assert "\n" not in str(info.value).strip()
    assert set(root().registry.sessions) <= {"default"}


def test_quoted_cell_options_lose_their_quotes(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell_magic("deepseek", "--new --system \"be terse\" --logit-bias '{\"1\": 5}' --stop 'THE END'", "hi")
    body = answering[-1]
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert body["logit_bias"] == {"1": 5.0}
    assert body["stop"] == ["THE END"]
    shell.run_cell_magic("deepseek", "-s 'my notes' --new", "hi")
    assert "my notes" in root().registry.sessions
    shell.run_cell("x = 'a'\nprint(x + 1)")
    shell.run_line_magic("deepseek", "fix --new --system 'be kind'")
    assert answering[-1]["messages"][0] == {"role": "system", "content": "be kind"}


def test_err_before_any_error_says_there_is_none_yet(shell: InteractiveShell, answering: list[dict]) -> None:
    with pytest.raises(UsageError, match="there is no error yet to refer to") as info:
        shell.run_cell_magic("deepseek", "", "Why did this fail? {Err}")
    assert "no variable named" not in str(info.value) and answering == []


def test_cell_magic_with_no_body_reaches_the_magic(shell: InteractiveShell, answering: list[dict]) -> None:
    result = shell.run_cell("%%deepseek")  # IPython alone refuses a cell magic with an empty body
    assert isinstance(result.error_in_exec, UsageError) and "no prompt" in str(result.error_in_exec)
    shell.run_cell("x = 'a'\nprint(x + 1)")
    shell.rl_next_input = None  # type: ignore[attr-defined]
    assert shell.run_cell("%%deepseek --fix --new").success
    assert "TypeError" in answering[-1]["messages"][-1]["content"]
    assert shell.rl_next_input == "x = 1\nprint(x + 1)"  # type: ignore[attr-defined]
    shell.extension_manager.reload_extension("evo_magic")
    from evo_magic.notebook.args import empty_body

    assert shell.input_transformers_cleanup.count(empty_body) == 1
    assert shell.input_transformer_manager.check_complete("%%deepseek --fix\n")[0] == "incomplete"


def test_a_refused_config_value_does_not_stop_the_extension_loading(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_line_magic("config", "DeepSeekMagics.temperature = 5")  # IPython keeps it, though refused
    assert shell.config.DeepSeekMagics.temperature == 5
    shell.extension_manager.reload_extension("evo_magic")
    assert "ignoring %config DeepSeekMagics.temperature" in capsys.readouterr().out
    assert "temperature" not in shell.config.DeepSeekMagics
    shell.run_line_magic("config", "DeepSeekMagics.live = 'none'")


def test_format_json_shows_the_parsed_value_once_as_indented_json(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as _json

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    root().transport_options = {
        "http_transport": httpx.MockTransport(
            lambda request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=sse_answer('{"colours": ["red", "blue"]}')
            )
        )
    }
    shown: list[Any] = []
    monkeypatch.setattr("evo_magic.notebook.cell.display", lambda *a, **k: shown.append((a, k)))
    shell.run_cell_magic("deepseek", "-f json --new -o data", "List two colours as JSON")
    assert shell.user_ns["data"] == {"colours": ["red", "blue"]}
    [((bundle,), kw)] = shown  # the answer, once (it was the answer, then the same JSON again)
    assert kw["raw"] is True and '<code class="language-json evo-hl">' in bundle["text/html"]
    assert bundle["text/plain"].startswith(_json.dumps({"colours": ["red", "blue"]}, indent=2) + "\n\n")
    shell.requests.clear()  # type: ignore[attr-defined]


def test_the_magic_refuses_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: object) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("EVOLINK_API_KEY", ENV_KEY)
    (tmp_path / ".env").write_text(f"EVOLINK_BASE_URL={emulator.url}\n")  # type: ignore[attr-defined]
    sent = len(emulator.requests)  # type: ignore[attr-defined]
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    try:
        ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
        result = ip.run_cell("%%deepseek\nhello")
        assert not result.success and ".env" in str(result.error_in_exec)
    finally:
        ip.extension_manager.unload_extension("evo_magic")
    assert len(emulator.requests) == sent  # type: ignore[attr-defined]




# --- end to end: a %%deepseek cell with a tool loop, on both protocols -------------------------
ROUND_1 = Turn(
    text=[f"Using {OUTPUT_KEY[:3]}", f"{OUTPUT_KEY[3:]}."],
    reasoning=[f"the key is {OUTPUT_KEY[:7]}", f"{OUTPUT_KEY[7:]} ok"],
    calls=[("call_1", "echo", ['{"s": "' + OUTPUT_KEY[:10], OUTPUT_KEY[10:] + '"}'])],
)


ROUND_2 = Turn(text=[f"Done: {OUTPUT_KEY[:12]}", f"{OUTPUT_KEY[12:]} !"], reasoning=[f"{OUTPUT_KEY[:1]}", f"{OUTPUT_KEY[1:]}"])


@pytest.fixture
def masking_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("EVOLINK_API_KEY", OUTPUT_KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/output-secrets.ipynb")
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    yield ip
    ip.extension_manager.unload_extension("evo_magic")


@pytest.mark.parametrize("live", ["none", "text"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_key_in_the_models_output_is_masked_everywhere(masking_shell: InteractiveShell, protocol: str, live: str) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[bytes]:
        bodies.append(body)
        raw = sse(protocol, payloads(protocol, ROUND_1 if len(bodies) == 1 else ROUND_2))
        return [raw[i : i + 7] for i in range(0, len(raw), 7)]

    root().transport_options = {"http_transport": serve(answer)}
    received: list[str] = []
    masking_shell.user_ns["echo"] = lambda s: received.append(s) or s
    masking_shell.run_line_magic("config", f"DeepSeekMagics.live = {live!r}")
    with capture_output() as cell:
        result = masking_shell.run_cell(f"%%deepseek --protocol {protocol} --tools echo -o r\nWhat is my key?")
    result.raise_error()
    reply = masking_shell.user_ns["r"]
    assert reply.ok and len(bodies) == 2
    assert (reply.text, reply.reasoning) == (f"Done: {MASKED} !", f"{MASKED}")
    assert received == [MASKED]  # what the tool loop passes on
    first = reply.rounds[0]
    assert (first.text, first.reasoning, first.tool_calls[0].arguments) == (
        f"Using {MASKED}.", f"the key is {MASKED} ok", f'{{"s": "{MASKED}"}}')
    shown = cell.stdout + "".join(json.dumps(o.data, ensure_ascii=False) for o in cell.outputs)
    assert MASKED in shown and f"Done: {MASKED}" in shown
    history = masking_shell.run_line_magic("deepseek", "history")
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
        assert OUTPUT_KEY not in text, where
    assert kept["ledger"].count(MASKED) >= 5  # answer, thinking and arguments of both rounds


@pytest.fixture
def shown_shell(monkeypatch: pytest.MonkeyPatch, emulator: object) -> Iterator[tuple[InteractiveShell, list[Any]]]:
    """An IPython shown_shell on the bundled emulator, without a live view: what it displays is kept."""
    from ..conftest import use_offline

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


def test_f_json_displays_the_answer_once_as_json(shown_shell: tuple[InteractiveShell, list[Any]]) -> None:
    ip, shown = shown_shell
    ip.run_cell_magic("deepseek", "-f json --no-think -o data", "List two colours as JSON")
    assert isinstance(ip.user_ns["data"], dict)
    [answer] = shown  # once: not the answer and then the same JSON again
    pretty = json.dumps(ip.user_ns["data"], indent=2, ensure_ascii=False)
    assert text_of(answer).startswith(pretty + "\n\n") and "deepseek-v4-flash" in text_of(answer)
    assert '<code class="language-json evo-hl">' in html_of(answer)


def test_n_choices_are_displayed_as_one_answer(shown_shell: tuple[InteractiveShell, list[Any]]) -> None:
    ip, shown = shown_shell
    ip.run_cell_magic("deepseek", "-n 3 --no-think", "Say hi")
    [answer] = shown
    assert html_of(answer).count('<section class="evo-choice">') == 3
    assert html_of(answer).count('class="evo-footer"') == 1
    assert text_of(answer).count("Choice ") == 3


def test_logprobs_come_after_the_answer_as_the_compact_view(shown_shell: tuple[InteractiveShell, list[Any]]) -> None:
    from evo_magic.display.logprobs import LogprobsView

    ip, shown = shown_shell
    ip.run_cell_magic("deepseek", "--no-think --logprobs --top-logprobs 3", "What is 2+2?")
    answer, view = shown
    assert "<strong>4</strong>" in html_of(answer) and isinstance(view, LogprobsView)
    assert len(view.tokens) > 3 and all(len(t.alternatives) <= 3 for t in view.tokens)


# --- the magic: --max-tool-calls N and %config DeepSeekMagics.max_tool_calls ----------------------
@pytest.fixture
def tools_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-tool-cap-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    ip.user_ns["ping"] = lambda n: n
    yield ip
    ip.run_line_magic("config", f"DeepSeekMagics.max_tool_calls = {DEFAULT_MAX_TOOL_CALLS}")
    ip.extension_manager.unload_extension("evo_magic")


def test_the_cell_option_and_the_config_trait(tools_shell: InteractiveShell) -> None:
    api = use(Api("openai", 6))
    with capture_output() as cell:
        tools_shell.run_cell_magic("deepseek", "--tools ping --max-tool-calls 3", "go")
    assert sum(not r.startswith("Error") for r in api.results()) == 3
    shown = "".join(json.dumps(o.data) for o in cell.outputs)
    assert shown.count("the first 3 ran, the other 3 were not run (max_tool_calls = 3)") == 2  # html + text
    tools_shell.run_line_magic("config", "DeepSeekMagics.max_tool_calls = 5")
    assert root().defaults.loop.max_tool_calls == 5
    assert ["max_tool_calls", "5 per round"] in tools_shell.run_line_magic("deepseek", "config").rows
    api.again(6)
    tools_shell.run_cell_magic("deepseek", "--tools ping", "again")
    assert sum(not r.startswith("Error") for r in api.results()) == 5
    magics = next(c for c in tools_shell.configurables if type(c).__name__ == "DeepSeekMagics")
    with pytest.raises(TraitError, match="max_tool_calls must be at least 1, not 0"):
        magics.max_tool_calls = 0
    assert "--max-tool-calls N" in tools_shell.run_line_magic("deepseek", "help").text


@pytest.mark.parametrize("line", ["--tools ping --max-tool-calls 0", "--tools ping --max-tool-calls x",
                                  "--max-tool-calls 3"])
def test_a_bad_cell_option_is_a_one_line_usage_error(tools_shell: InteractiveShell, line: str) -> None:
    api = use(Api("openai", 1))
    with pytest.raises(UsageError) as info:
        tools_shell.run_cell_magic("deepseek", line, "go")
    assert "\n" not in str(info.value).strip() and api.bodies == []


@pytest.fixture
def models_shell(answering_shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("JPY_SESSION_NAME", "models.ipynb")
    yield answering_shell
    answering_shell.run_line_magic("config", "DeepSeekMagics.extra_models = []")
    answering_shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-flash'")


def test_a_mistyped_model_is_refused_before_any_request_with_a_suggestion(models_shell: InteractiveShell) -> None:
    result = models_shell.run_cell("%%deepseek -m deepseek-v4-flsh\nhello")
    error = result.error_in_exec
    assert isinstance(error, UsageError)
    message = str(error)
    assert len(message.splitlines()) == 1
    assert "did you mean 'deepseek-v4-flash'" in message and "extra_models" in message
    assert models_shell.bodies == []  # type: ignore[attr-defined]
    assert len(evo_magic.usage()) == 0  # no junk row in the usage table


def test_extra_models_allow_a_model_the_gateway_adds_later(models_shell: InteractiveShell) -> None:
    models_shell.run_line_magic("config", "DeepSeekMagics.extra_models = ['deepseek-v5-preview']")
    assert models_shell.run_cell("%%deepseek -m deepseek-v5-preview --no-think\nhello").success
    assert models_shell.bodies[-1]["model"] == "deepseek-v5-preview"  # type: ignore[attr-defined]
    models_shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v5-preview'")
    assert models_shell.run_cell("%%deepseek --no-think\nhello again").success
    assert models_shell.bodies[-1]["model"] == "deepseek-v5-preview"  # type: ignore[attr-defined]
    table = repr(models_shell.run_line_magic("deepseek", "config"))
    assert re.search(r"extra_models\s+deepseek-v5-preview", table), table


def test_a_refused_config_setting_is_one_clean_line(
    models_shell: InteractiveShell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    capsys.readouterr()
    for statement, words in (
        ("DeepSeekMagics.model = 'deepseek-v4-flsh'", "did you mean 'deepseek-v4-flash'"),
        ("DeepSeekMagics.extra_models = ['bad name']", "whitespace"),
        ("DeepSeekMagics.read_timeout = -1", "read_timeout"),
    ):
        models_shell.run_cell(f"%config {statement}")
        captured = capsys.readouterr()
        shown = (captured.out + captured.err).strip()
        assert words in shown, shown
        assert len(shown.splitlines()) == 1 and "ERROR:root" not in shown and "Traceback" not in shown, shown
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    magics = next(c for c in models_shell.configurables if type(c).__name__ == "DeepSeekMagics")
    assert magics.model == "deepseek-v4-flash" and magics.extra_models == [] and magics.read_timeout == 180.0
