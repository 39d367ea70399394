"""Model names: a name the client does not know is refused before any request, with a "did
you mean"; %config DeepSeekMagics.extra_models allows one the gateway adds later; a refused
%config setting is one clean line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import evo_magic
from evo_magic.core.options import MODELS, RequestOptions
from evo_magic.errors import OptionError


@pytest.fixture
def shell(answering_shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("JPY_SESSION_NAME", "models.ipynb")
    yield answering_shell
    answering_shell.run_line_magic("config", "DeepSeekMagics.extra_models = []")
    answering_shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v4-flash'")


def test_a_mistyped_model_is_refused_before_any_request_with_a_suggestion(shell: InteractiveShell) -> None:
    result = shell.run_cell("%%deepseek -m deepseek-v4-flsh\nhello")
    error = result.error_in_exec
    assert isinstance(error, UsageError)
    message = str(error)
    assert len(message.splitlines()) == 1
    assert "did you mean 'deepseek-v4-flash'" in message and "extra_models" in message
    assert shell.bodies == []  # type: ignore[attr-defined]
    assert len(evo_magic.usage()) == 0  # no junk row in the usage table


def test_the_python_api_refuses_too() -> None:
    with pytest.raises(OptionError, match="did you mean 'deepseek-v4-pro'"):
        evo_magic.session().ask("hello", model="deepseek-v4-por")
    with pytest.raises(OptionError, match="unknown model"):
        RequestOptions(model="deepseek-v9-anything").validate()  # deepseek-* is no longer a pass
    for model in MODELS:
        assert RequestOptions(model=model).validate().model == model


@pytest.mark.parametrize("name", ["deepseek-v4-flash ", " deepseek-v4-flash", "deepseek v4", "deepseek-\x1b[31m", "deep\u200bseek", ""])
def test_names_with_whitespace_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(OptionError) as caught:
        RequestOptions(model=name, extra_models=(name,)).validate()
    assert len(caught.value.one_line().splitlines()) == 1 and "\x1b" not in caught.value.one_line()


def test_extra_models_allow_a_model_the_gateway_adds_later(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "DeepSeekMagics.extra_models = ['deepseek-v5-preview']")
    assert shell.run_cell("%%deepseek -m deepseek-v5-preview --no-think\nhello").success
    assert shell.bodies[-1]["model"] == "deepseek-v5-preview"  # type: ignore[attr-defined]
    shell.run_line_magic("config", "DeepSeekMagics.model = 'deepseek-v5-preview'")
    assert shell.run_cell("%%deepseek --no-think\nhello again").success
    assert shell.bodies[-1]["model"] == "deepseek-v5-preview"  # type: ignore[attr-defined]
    table = repr(shell.run_line_magic("deepseek", "config"))
    assert re.search(r"extra_models\s+deepseek-v5-preview", table), table


def test_a_refused_config_setting_is_one_clean_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    capsys.readouterr()
    for statement, words in (
        ("DeepSeekMagics.model = 'deepseek-v4-flsh'", "did you mean 'deepseek-v4-flash'"),
        ("DeepSeekMagics.extra_models = ['bad name']", "whitespace"),
        ("DeepSeekMagics.read_timeout = -1", "read_timeout"),
    ):
        shell.run_cell(f"%config {statement}")
        captured = capsys.readouterr()
        shown = (captured.out + captured.err).strip()
        assert words in shown, shown
        assert len(shown.splitlines()) == 1 and "ERROR:root" not in shown and "Traceback" not in shown, shown
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    magics = next(c for c in shell.configurables if type(c).__name__ == "DeepSeekMagics")
    assert magics.model == "deepseek-v4-flash" and magics.extra_models == [] and magics.read_timeout == 180.0
