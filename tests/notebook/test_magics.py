"""Magic parsing and misuse, in an in-process IPython shell (no kernel, no network)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.sessions.registry import registry


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500, json={"error": {"message": "no network in this test"}})

    registry().transport_kwargs = {"http_transport": httpx.MockTransport(handler)}
    ip.requests = requests  # type: ignore[attr-defined]
    yield ip
    ip.extension_manager.unload_extension("evo_magic")
    assert requests == [], "misuse must not reach the network"


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


def test_unknown_line_command_suggests(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="did you mean 'history'"):
        shell.run_line_magic("deepseek", "histroy")


def test_help_and_question_mark_show_the_reference(shell: InteractiveShell) -> None:
    notice = shell.run_line_magic("deepseek", "help")
    for word in (
        "--no-think",
        "--max-tokens",
        "offline",
        "history",
        "%config DeepSeekMagics.model",
    ):
        assert word in repr(notice)
    doc = shell.find_cell_magic("deepseek").__doc__
    assert "--system TEXT" in doc


def test_config_shows_only_last_four_key_chars(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-supersecret-value-7777")
    table = shell.run_line_magic("deepseek", "config")
    text, html = repr(table), table._repr_html_()
    assert "7777" in text and "supersecret" not in text and "supersecret" not in html


def test_percent_config_sets_defaults(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-pro'")
    assert registry().defaults.model == "deepseek-v4-pro"
    assert registry().get().options().model == "deepseek-v4-pro"
    shell.run_line_magic("config", "DeepSeekMagics.thinking = False")
    assert registry().get().options().thinking is False
    from traitlets import TraitError

    magics = next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")
    with pytest.raises(TraitError):
        magics.model = "not-a-model"
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-flash'")
    shell.run_line_magic("config", "DeepSeekMagics.thinking = None")


def test_each_model_thinks_by_its_own_default_unless_told(shell: InteractiveShell) -> None:
    from evo_magic.errors import OptionError

    s = registry().get()
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


def test_reset_and_history_commands(shell: InteractiveShell) -> None:
    assert "0 turns" in repr(shell.run_line_magic("deepseek", "history"))  # the default session always exists
    registry().get("other")
    assert "reset" in repr(shell.run_line_magic("deepseek", "reset -s other"))
    table = shell.run_line_magic("deepseek", "history -s other")
    assert "0 turns" in repr(table)
    with pytest.raises(UsageError):
        shell.run_line_magic("deepseek", "history --nope")


@pytest.mark.parametrize("command", ["history -s ghost", "reset -s ghost", "undo -s ghost", "pick 2 -s ghost"])
def test_unknown_session_is_refused_not_created(shell: InteractiveShell, command: str) -> None:
    registry().get("scratch")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("deepseek", command)
    message = str(info.value)
    assert "no session 'ghost'; sessions: default, scratch" in message and "\n" not in message
    assert "%deepseek restore -s ghost" in message
    assert "ghost" not in registry().sessions
    assert "ghost" not in repr(shell.run_line_magic("deepseek", "config"))


@pytest.mark.parametrize("command", ["history -s ''", "reset -s ' '"])
def test_empty_session_name_is_refused_by_line_commands(shell: InteractiveShell, command: str) -> None:
    with pytest.raises(UsageError, match="a session name cannot be empty"):
        shell.run_line_magic("deepseek", command)


def test_restore_creates_the_session_it_names(shell: InteractiveShell) -> None:
    notice = shell.run_line_magic("deepseek", "restore -s fresh")
    assert "Nothing to restore for session 'fresh'" in repr(notice)
    assert "fresh" in registry().sessions


def sse_answer(text: str) -> bytes:
    import json as _json

    chunks = [
        {"id": "a", "model": "deepseek-v4-flash", "choices": [{"index": 0, "delta": {"content": text}}]},
        {"id": "a", "model": "deepseek-v4-flash", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
    ]
    return b"".join(b"data: " + _json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


@pytest.fixture
def answering(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    import json as _json

    monkeypatch.setenv("EVOLINK_API_KEY", "sk-magic-test-1111")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:9")
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(_json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse_answer("Cause: x is a string.\n\n```python\nx = 1\nprint(x + 1)\n```\n"))

    registry().transport_kwargs = {"http_transport": httpx.MockTransport(handler)}
    yield bodies
    shell.requests.clear()  # type: ignore[attr-defined]


def test_interpolation_of_values_in_prompt(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.user_ns["rows"] = list(range(3))
    shell.run_cell_magic("deepseek", "--new", "Sum {rows} and {len(rows)} {{not this}}")
    assert answering[-1]["messages"][-1]["content"] == "Sum [0, 1, 2] and 3 {not this}"
    shell.run_cell_magic("deepseek", "--no-interpolate --new", "Keep {rows}")
    assert answering[-1]["messages"][-1]["content"] == "Keep {rows}"
    with pytest.raises(UsageError, match="no variable named 'nope'"):
        shell.run_cell_magic("deepseek", "", "what is {nope}")


def test_fix_sends_error_and_code_and_puts_corrected_cell_below(shell: InteractiveShell, answering: list[dict]) -> None:
    with pytest.raises(UsageError, match="no error to fix"):
        shell.run_line_magic("deepseek", "fix")
    shell.run_cell("x = 'a'\nprint(x + 1)")
    shell.run_line_magic("deepseek", "fix")
    sent = answering[-1]["messages"][-1]["content"]
    assert "print(x + 1)" in sent and "TypeError" in sent and "Traceback" in sent
    assert "interactiveshell.py" not in sent and "run_code" not in sent  # the notebook's frames only
    assert shell.rl_next_input == "x = 1\nprint(x + 1)"  # type: ignore[attr-defined]
    shell.run_cell_magic("deepseek", "--new", "Explain {Err}")
    assert "TypeError" in answering[-1]["messages"][-1]["content"]


def test_format_code_puts_code_in_next_cell(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.rl_next_input = None  # type: ignore[attr-defined]
    shell.run_cell_magic("deepseek", "-f code --new", "write code")
    assert shell.rl_next_input == "x = 1\nprint(x + 1)"  # type: ignore[attr-defined]


def test_undo_command(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell_magic("deepseek", "-s u --new", "one")
    shell.run_cell_magic("deepseek", "-s u", "two")
    assert "'two'" in repr(shell.run_line_magic("deepseek", "undo -s u"))
    assert len(registry().get("u").turns) == 1


def test_offline_rate_applies_to_the_running_emulator_and_off_says_where(shell: InteractiveShell) -> None:
    from evo_magic.notebook import offline

    try:
        first = shell.run_line_magic("deepseek", "offline --rate 50")
        assert "(50 tokens/s)" in first.text and offline._emulator.state.tokens_per_second == 50
        again = shell.run_line_magic("deepseek", "offline --rate 2000")  # the emulator keeps running
        assert "(2000 tokens/s)" in again.text and offline._emulator.state.tokens_per_second == 2000
        with pytest.raises(UsageError, match="--rate is tokens per second"):
            shell.run_line_magic("deepseek", "offline --rate -3")
        back = shell.run_line_magic("deepseek", "offline --off")
        assert "again" in back.text and "127.0.0.1" not in back.text
    finally:
        offline.go_online()
    assert "Already online" in shell.run_line_magic("deepseek", "offline --off").text


def test_restore_without_a_notebook_name_says_the_ledger_name_is_shared(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evo_magic.ledger.accounting as accounting

    for name in ("JPY_SESSION_NAME", "EVO_MAGIC_NOTEBOOK"):
        monkeypatch.delenv(name, raising=False)
    acc = accounting.current()
    acc._notebook = None  # named again, now without a front end
    try:
        said = shell.run_line_magic("deepseek", "restore").text
        assert "untitled (cwd:" in said and "set EVO_MAGIC_NOTEBOOK to tell them apart" in said
    finally:
        acc._notebook = None
def magics_of(shell: InteractiveShell) -> Any:
    return next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "$nan", "-1", "0"])
def test_budget_must_be_a_positive_finite_amount(shell: InteractiveShell, amount: str) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("deepseek", f"budget {amount}")
    assert "\n" not in str(info.value) and "positive amount of USD" in str(info.value)
    assert magics_of(shell).budget is None
    from evo_magic.ledger.accounting import current

    assert current().budget is None


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
    assert set(registry().sessions) <= {"default"}


def test_quoted_cell_options_lose_their_quotes(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell_magic("deepseek", "--new --system \"be terse\" --logit-bias '{\"1\": 5}' --stop 'THE END'", "hi")
    body = answering[-1]
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert body["logit_bias"] == {"1": 5.0}
    assert body["stop"] == ["THE END"]
    shell.run_cell_magic("deepseek", "-s 'my notes' --new", "hi")
    assert "my notes" in registry().sessions
    shell.run_cell("x = 'a'\nprint(x + 1)")
    shell.run_line_magic("deepseek", "fix --new --system 'be kind'")
    assert answering[-1]["messages"][0] == {"role": "system", "content": "be kind"}


def test_history_text_escapes_control_characters(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell_magic("deepseek", "--new --no-interpolate", "\x1b[2J\x1b]0;owned\x07 wipe\rthe\x9b1A screen\tnow")
    table = shell.run_line_magic("deepseek", "history")
    text = repr(table)
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text)
    assert "\\x1b[2J\\x1b]0;owned\\x07 wipe the\\x9b1A screen now" in text
    assert table.turns[0].prompt.startswith("\x1b[2J")  # only the text form is escaped; the turns keep the prompt


def test_fix_checks_the_output_variable_too(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell("x = 'a'\nprint(x + 1)")
    with pytest.raises(UsageError, match="needs a Python variable name, not 'class'"):
        shell.run_line_magic("deepseek", "fix -o class")
    assert answering == [] and "class" not in shell.user_ns


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


def test_budget_is_confirmed_to_the_cent_fraction_and_shown_in_config(shell: InteractiveShell) -> None:
    try:
        said = shell.run_line_magic("deepseek", "budget 0.0006").text
        assert "Budget for this notebook: $0.0006;" in said  # was "$0.00"
        rows = dict((str(k), str(v)) for k, v in shell.run_line_magic("deepseek", "config").rows)
        assert rows["budget"] == "$0.0006" and rows["thinking"] == "each model's default"
    finally:
        shell.run_line_magic("deepseek", "budget off")
    rows = dict((str(k), str(v)) for k, v in shell.run_line_magic("deepseek", "config").rows)
    assert rows["budget"] == "none"


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
    registry().transport_kwargs = {
        "http_transport": httpx.MockTransport(
            lambda request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=sse_answer('{"colours": ["red", "blue"]}')
            )
        )
    }
    shown: list[Any] = []
    monkeypatch.setattr("evo_magic.notebook.magics.display", lambda *a, **k: shown.append((a, k)))
    shell.run_cell_magic("deepseek", "-f json --new -o data", "List two colours as JSON")
    assert shell.user_ns["data"] == {"colours": ["red", "blue"]}
    [((bundle,), kw)] = shown  # the answer, once (it was the answer, then the same JSON again)
    assert kw["raw"] is True and '<code class="language-json evo-hl">' in bundle["text/html"]
    assert bundle["text/plain"].startswith(_json.dumps({"colours": ["red", "blue"]}, indent=2) + "\n\n")
    shell.requests.clear()  # type: ignore[attr-defined]


def test_help_keeps_its_layout_in_html(shell: InteractiveShell) -> None:
    """In JupyterLab the reference was one paragraph: HTML collapses newlines and spaces."""
    import html as _html

    notice = shell.run_line_magic("deepseek", "help")
    markup = notice._repr_html_()
    [body] = re.findall(r"<pre[^>]*>(.*?)</pre>", markup, re.S)
    assert _html.unescape(body) == shell.find_cell_magic("deepseek").__doc__
    assert "  -s NAME              use the named session" in _html.unescape(body)
    assert repr(notice).startswith("%deepseek: Chat with DeepSeek")


def test_the_offline_notice_shows_commands_as_code_never_as_backticks(shell: InteractiveShell) -> None:
    from evo_magic.notebook import offline

    try:
        notice = shell.run_line_magic("deepseek", "offline --rate 50")
        assert "`" not in repr(notice) and "`" not in notice._repr_html_()
        assert "%deepseek offline --off goes back online" in repr(notice)
        assert "<code>%deepseek offline --off</code> goes back online" in notice._repr_html_()
    finally:
        offline._stop()


def test_bare_budget_tells_the_limit_and_this_notebooks_spend(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decimal import Decimal

    from evo_magic.ledger.accounting import current

    from .test_ledger import TURN2, row

    monkeypatch.setenv("JPY_SESSION_NAME", "budget.ipynb")
    acc = current()
    acc._notebook = None  # named from the environment of this test
    acc.ledger.record(row(notebook=acc.notebook, usage=TURN2, cost=Decimal("0.25")))
    acc.ledger.record(row(notebook=acc.notebook, usage=TURN2, cost=Decimal("9"), offline=True))  # not billed
    acc.ledger.record(row(notebook="other.ipynb", usage=TURN2, cost=Decimal("5")))
    shell.run_line_magic("deepseek", "budget off")
    none = shell.run_line_magic("deepseek", "budget")
    assert repr(none) == (
        "No budget for budget.ipynb: $0.25 spent. %deepseek budget AMOUNT sets one "
        "(a warning from 80 %, requests past it are refused)."
    )
    assert "<code>%deepseek budget AMOUNT</code>" in none._repr_html_()
    shell.run_line_magic("deepseek", "budget 2")
    assert repr(shell.run_line_magic("deepseek", "budget")) == (
        "Budget for budget.ipynb: $0.25 of $2.00 spent (12 %). %deepseek budget off removes it."
    )
    shell.run_line_magic("deepseek", "budget off")
    with pytest.raises(UsageError, match="usage: %deepseek budget"):
        shell.run_line_magic("deepseek", "budget 1 2")
    shell.run_line_magic("deepseek", "budget 0.10")
    assert repr(shell.run_line_magic("deepseek", "budget")).startswith(
        "Budget for budget.ipynb is used up: $0.25 of $0.10 spent (250 %); new requests are refused."
    )
    shell.run_line_magic("deepseek", "budget off")
