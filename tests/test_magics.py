"""Magic parsing and misuse, in an in-process IPython shell (no kernel, no network)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from evo_magic.registry import registry


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
    shell.run_line_magic("config", "DeepSeekMagics.thinking = True")


def test_reset_and_history_commands(shell: InteractiveShell) -> None:
    assert "reset" in repr(shell.run_line_magic("deepseek", "reset -s other"))
    table = shell.run_line_magic("deepseek", "history -s other")
    assert "0 turns" in repr(table)
    with pytest.raises(UsageError):
        shell.run_line_magic("deepseek", "history --nope")
