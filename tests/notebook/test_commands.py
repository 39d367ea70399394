"""Tests of ``evo_magic.notebook.commands``."""

from __future__ import annotations

import builtins
import csv
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import evo_magic
from evo_magic.display.notices import Notice
from evo_magic.ledger.report import ALL_BY, UsageRows, UsageView
from evo_magic.ledger.store import Ledger, LedgerRow
from evo_magic.runtime import root

from ..keys import ENV_KEY
from ..ledger.helpers import TURN1, TURN2, row
from .helpers import magics_of


def test_the_magic_and_config_tell_where_settings_come_from_and_what_was_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from ..conftest import use_emulator

    use_emulator(monkeypatch, emulator.url, "notes.ipynb", key=ENV_KEY)  # type: ignore[attr-defined]
    (tmp_path / ".env").write_text("EVOLINK_API_KEY=sk-unused-12345678\n" + "#\n" * 200_000)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    try:
        ip.run_line_magic("config", "DeepSeekMagics.live = 'none'")
        capsys.readouterr()
        for _ in range(2):
            assert ip.run_cell("%%deepseek --no-think\nhello").success
        out = capsys.readouterr().out
        assert out.count("too large for a .env file") == 1, out  # said once per kernel, not per cell
        table = repr(ip.run_line_magic("deepseek", "config"))
    finally:
        ip.extension_manager.unload_extension("evo_magic")
    assert "the environment" in table and "too large" in table and "0123456789" not in table


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
        "--map NAME",
        "--schema NAME",
        "--estimate",
        "--concurrency N",
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


def test_reset_and_history_commands(shell: InteractiveShell) -> None:
    assert "0 turns" in repr(shell.run_line_magic("deepseek", "history"))  # the default session always exists
    root().registry.get("other")
    assert "reset" in repr(shell.run_line_magic("deepseek", "reset -s other"))
    table = shell.run_line_magic("deepseek", "history -s other")
    assert "0 turns" in repr(table)
    with pytest.raises(UsageError):
        shell.run_line_magic("deepseek", "history --nope")


@pytest.mark.parametrize("command", ["history -s ghost", "reset -s ghost", "undo -s ghost", "pick 2 -s ghost"])
def test_unknown_session_is_refused_not_created(shell: InteractiveShell, command: str) -> None:
    root().registry.get("scratch")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("deepseek", command)
    message = str(info.value)
    assert "no session 'ghost'; sessions: default, scratch" in message and "\n" not in message
    assert "%deepseek restore -s ghost" in message
    assert "ghost" not in root().registry.sessions
    assert "ghost" not in repr(shell.run_line_magic("deepseek", "config"))


@pytest.mark.parametrize("command", ["history -s ''", "reset -s ' '"])
def test_empty_session_name_is_refused_by_line_commands(shell: InteractiveShell, command: str) -> None:
    with pytest.raises(UsageError, match="a session name cannot be empty"):
        shell.run_line_magic("deepseek", command)


def test_restore_creates_the_session_it_names(shell: InteractiveShell) -> None:
    notice = shell.run_line_magic("deepseek", "restore -s fresh")
    assert "Nothing to restore for session 'fresh'" in repr(notice)
    assert "fresh" in root().registry.sessions


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


def test_undo_command(shell: InteractiveShell, answering: list[dict]) -> None:
    shell.run_cell_magic("deepseek", "-s u --new", "one")
    shell.run_cell_magic("deepseek", "-s u", "two")
    assert "'two'" in repr(shell.run_line_magic("deepseek", "undo -s u"))
    assert len(root().registry.get("u").turns) == 1


def test_offline_rate_applies_to_the_running_emulator_and_off_says_where(shell: InteractiveShell) -> None:
    from evo_magic.notebook import offline

    try:
        first = shell.run_line_magic("deepseek", "offline --rate 50")
        assert "(50 tokens/s)" in first.text and root().part(offline.Offline).emulator.state.tokens_per_second == 50
        again = shell.run_line_magic("deepseek", "offline --rate 2000")  # the emulator keeps running
        assert "(2000 tokens/s)" in again.text and root().part(offline.Offline).emulator.state.tokens_per_second == 2000
        with pytest.raises(UsageError, match="--rate is tokens per second"):
            shell.run_line_magic("deepseek", "offline --rate -3")
        back = shell.run_line_magic("deepseek", "offline --off")
        assert "again" in back.text and "127.0.0.1" not in back.text
    finally:
        offline.go_online(root())
    assert "Already online" in shell.run_line_magic("deepseek", "offline --off").text


def test_restore_without_a_notebook_name_says_the_ledger_name_is_shared(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evo_magic.runtime import root

    for name in ("JPY_SESSION_NAME", "EVO_MAGIC_NOTEBOOK"):
        monkeypatch.delenv(name, raising=False)
    acc = root().accounting
    acc._notebook = None  # named again, now without a front end
    try:
        said = shell.run_line_magic("deepseek", "restore").text
        assert "untitled (cwd:" in said and "set EVO_MAGIC_NOTEBOOK to tell them apart" in said
    finally:
        acc._notebook = None


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "$nan", "-1", "0"])
def test_budget_must_be_a_positive_finite_amount(shell: InteractiveShell, amount: str) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("deepseek", f"budget {amount}")
    assert "\n" not in str(info.value) and "positive amount of USD" in str(info.value)
    # the line command's words, not the Python API's: "(None: no limit)" meant nothing here
    assert "None" not in str(info.value) and str(info.value).endswith("; %deepseek budget off removes the limit")
    assert magics_of(shell).budget is None
    from evo_magic.runtime import root
    assert root().accounting.budget is None


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
        root().part(offline.Offline).close()


def test_bare_budget_tells_the_limit_and_this_notebooks_spend(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decimal import Decimal

    from evo_magic.runtime import root

    from ..ledger.helpers import TURN2, row

    monkeypatch.setenv("JPY_SESSION_NAME", "budget.ipynb")
    acc = root().accounting
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


# --- through the magic ---------------------------------------------------------------------
@pytest.fixture
def usage_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InteractiveShell]:
    """An in-process usage_shell whose accounting uses this test's ledger, with two notebooks."""
    monkeypatch.setenv("EVO_MAGIC_NOTEBOOK", "/work/analysis.ipynb")
    with Ledger(tmp_path / "evo_home" / "ledger.sqlite3") as ledger:  # EVO_MAGIC_HOME (conftest)
        ledger.record(row(notebook="/work/analysis.ipynb", usage=TURN1, cost=Decimal("0.0000410536"), cell=3))
        ledger.record(row(notebook="/work/analysis.ipynb", session="<script>", usage=TURN2))
        ledger.record(LedgerRow("other.ipynb", "default", "deepseek-v4-flash", usage=TURN2, cost=Decimal("0.00014462")))
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    yield ip
    ip.extension_manager.unload_extension("evo_magic")
    root().accounting.close()


def test_usage_magic_shows_the_view(usage_shell: InteractiveShell) -> None:
    view = usage_shell.run_line_magic("deepseek", "usage")
    assert isinstance(view, UsageView) and len(view.records) == 2
    text = repr(view)
    assert text.startswith("Usage of analysis.ipynb\n") and "other.ipynb" not in text
    assert "&lt;script&gt;" in view._repr_html_() and "<svg" in view._repr_html_()
    every = usage_shell.run_line_magic("deepseek", "usage --all")
    assert every.by == ALL_BY and len(every.records) == 3 and "other.ipynb" in repr(every)

    rows = evo_magic.usage()
    assert isinstance(rows, UsageRows) and [r.cost for r in rows] == [Decimal("0.0000410536"), None]
    assert len(evo_magic.usage(all_notebooks=True)) == 3 and len(evo_magic.usage("other.ipynb")) == 1


def test_usage_magic_writes_csv(usage_shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    notice = usage_shell.run_line_magic("deepseek", "usage --csv ~/mine.csv")
    assert isinstance(notice, Notice) and repr(notice) == f"Wrote 2 rows to {tmp_path / 'mine.csv'}"
    assert len((tmp_path / "mine.csv").read_text(encoding="utf-8").splitlines()) == 3
    assert repr(usage_shell.run_line_magic("deepseek", "usage --csv here.csv")) == f"Wrote 2 rows to {Path.cwd() / 'here.csv'}"
    notice = usage_shell.run_line_magic("deepseek", f"usage --all --csv '{tmp_path / 'all of them.csv'}'")
    assert repr(notice) == f"Wrote 3 rows to {tmp_path / 'all of them.csv'}"
    with (tmp_path / "all of them.csv").open(newline="", encoding="utf-8") as f:
        assert [r["cost"] for r in csv.DictReader(f)] == ["0.0000410536", "", "0.00014462"]


@pytest.mark.parametrize("where", ["missing/dir/u.csv", "."])
def test_usage_magic_bad_csv_path_is_a_one_line_usage_error(
    usage_shell: InteractiveShell, tmp_path: Path, where: str
) -> None:
    with pytest.raises(UsageError) as info:
        usage_shell.run_line_magic("deepseek", f"usage --csv {tmp_path / where}")
    message = str(info.value)
    assert message.startswith(f"cannot write {tmp_path / where}: ") and "\n" not in message


def test_line_commands_take_braces_literally(answering_shell: InteractiveShell) -> None:
    result = answering_shell.run_cell("%deepseek budget {__import__('builtins').__setattr__('EVO_PWNED',1)or(2)}")
    assert isinstance(result.error_in_exec, UsageError) and "budget is an amount" in str(result.error_in_exec)
    assert not hasattr(builtins, "EVO_PWNED")


# --- each line command's parsing and refusals, as a table --------------------------------------
# (the line after %deepseek, words its one-line UsageError must hold); none reaches the network
# (the shell fixture fails the test on any request) and none creates a named session.
REFUSALS = [
    ("histroy", "unknown command 'histroy': did you mean 'history'?"),
    ("What is 2+2?", "unknown command 'What': commands are help, reset, history"),
    ("Explain this", "a prompt goes in a %%deepseek cell"),
    ("--map df", "'--map' is an option of a %%deepseek cell: write %%deepseek --map df on a cell's first line"),
    ("-m deepseek-v4-pro", "'-m' is an option of a %%deepseek cell: write %%deepseek -m deepseek-v4-pro on a cell's"),
    ("--bogus", "unknown command '--bogus': commands are help"),
    ('reset -s "unclosed', "cannot parse the line: No closing quotation"),
    ("reset -s ghost", "no session 'ghost'; sessions: default"),
    ("reset -s ghost", "%deepseek restore -s ghost brings a session back"),
    ("reset --everything", "unrecognized arguments: --everything"),
    ("history -s ''", "a session name cannot be empty"),
    ("history extra", "unrecognized arguments: extra"),
    ("undo", "session 'default' has no turn to undo"),
    ("undo -s ghost", "no session 'ghost'"),
    ("restore -s ''", "a session name cannot be empty"),
    ("pick", "the following arguments are required: choice"),
    ("pick two", "invalid int value: 'two'"),
    ("pick 2", "there is no turn to pick a choice from"),
    ("pick 1 -s ghost", "no session 'ghost'"),
    ("fix", "no error to fix"),
    ("fix --bogus", "unrecognized arguments: --bogus"),
    ("usage --csv ''", "--csv needs a file path, like --csv usage.csv"),
    ("usage --by day", "unrecognized arguments: --by day"),
    ("budget 1 2", "usage: %deepseek budget AMOUNT (USD) or %deepseek budget off"),
    ("budget lots", "the budget is an amount in USD like 2.00, not 'lots'"),
    ("budget 0", "positive amount of USD"),
    ("budget nan", "positive amount of USD"),
    ("config model", "%deepseek config takes no arguments; use %config DeepSeekMagics.NAME = VALUE"),
    ("offline --rate 0", "--rate is tokens per second and must be positive"),
    ("offline --rate fast", "invalid float value: 'fast'"),
    ("offline --online", "unrecognized arguments: --online"),
    ("panel", "the chat panel needs a Jupyter front end"),
    ("panel -s ''", "a session name cannot be empty"),
    ("cache maybe", "the cache mode is one of off, on, refresh, replay-only, not 'maybe'"),
    ("cache on --now", "usage: %deepseek cache [off|on|refresh|replay-only]"),
    ("restore --from ''", "--from needs a notebook file"),
    ("continue", "session 'default' has no answer to continue (%deepseek continue rescues an answer cut at max_tokens)"),
    ("continue -s ghost", "no session 'ghost'"),
    ("continue --max-tokens lots", "invalid int value: 'lots'"),
    ("continue again", "unrecognized arguments: again"),
]


@pytest.mark.parametrize("line,words", REFUSALS)
def test_each_command_refuses_misuse_in_one_line(shell: InteractiveShell, line: str, words: str) -> None:
    before = sorted(set(root().registry.sessions) - {"default"})
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("deepseek", line)
    message = str(caught.value)
    assert words in message and "\n" not in message and "Traceback" not in message, message
    assert sorted(set(root().registry.sessions) - {"default"}) == before  # the default one always exists


# (the line, words its answer shows as text)
ANSWERS = [
    ("", "%deepseek: Chat with DeepSeek V4"),
    ("help", "--no-think"),
    ("reset", "Session 'default' reset: the next cell starts a new conversation."),
    ("reset -s default", "Session 'default' reset"),
    ("history", "0 turns"),
    ("restore", "Nothing to restore for session 'default'"),
    ("restore -s later", "Nothing to restore for session 'later'"),
    ("budget", "%deepseek budget AMOUNT sets one"),
    ("budget $2", "Budget for this notebook: $2.00; a warning from 80 %"),
    ("budget 0.5", "Budget for this notebook: $0.50"),
    ("budget off", "No budget for this notebook."),
    ("budget NONE", "No budget for this notebook."),
    ("config", "evo_magic settings"),
    ("usage", "No requests recorded yet."),
    ("usage --all", "Usage of every notebook"),
    ("cache", "Cache: off — every cell asks again"),
    ("restore --from nowhere.ipynb", "the notebook cannot help: nowhere.ipynb is not found"),
]


@pytest.mark.parametrize("line,words", ANSWERS)
def test_each_command_parses_what_it_takes(shell: InteractiveShell, line: str, words: str) -> None:
    try:
        shown = shell.run_line_magic("deepseek", line)
        assert words in repr(shown), repr(shown)
    finally:
        magics_of(shell).budget = None
