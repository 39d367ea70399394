"""``.env`` files as users write them, and one that must not redirect the key."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic import config
from evo_magic.errors import ConfigError

ENV_KEY = "sk-env-key-0123456789abcd"


# --- item 9: a .env must not redirect the key ---------------------------------------------


def test_a_dotenv_base_url_never_receives_the_environment_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", ENV_KEY)
    (tmp_path / ".env").write_text("EVOLINK_BASE_URL=http://elsewhere.example\n")
    with pytest.raises(ConfigError) as caught:
        config.resolve()
    message = caught.value.one_line()
    assert str(tmp_path / ".env") in message and "EVOLINK_BASE_URL" in message
    assert "0123456789" not in message and len(message.splitlines()) == 1


def test_a_dotenv_may_set_both_or_the_environment_may_set_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("EVOLINK_BASE_URL=http://127.0.0.1:9\nEVOLINK_API_KEY=sk-file-key-99998888\n")
    endpoint = config.resolve()  # both from the same file: that file's key goes to that file's URL
    assert endpoint.base_urls == ("http://127.0.0.1:9",) and endpoint.key == config.Secret("sk-file-key-99998888")
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-file-key-99998888")
    assert config.resolve().key == config.Secret("sk-file-key-99998888")  # the same key, wherever read
    monkeypatch.setenv("EVOLINK_API_KEY", ENV_KEY)
    with pytest.raises(ConfigError, match="environment"):
        config.resolve()  # another key from the environment: refused
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:7")
    endpoint = config.resolve()  # the URL from the environment: the user's own choice
    assert endpoint.base_urls == ("http://127.0.0.1:7",) and endpoint.key == config.Secret(ENV_KEY)
    monkeypatch.delenv("EVOLINK_BASE_URL")
    dotenv.write_text("EVOLINK_BASE_URL=http://127.0.0.1:9\n")
    monkeypatch.delenv("EVOLINK_API_KEY")
    assert config.resolve().key is None  # no key at all: nothing to leak, the request says "no key"


def test_a_dotenv_cannot_splice_the_environment_key_into_its_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", ENV_KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:7")
    (tmp_path / ".env").write_text("EVOLINK_API_KEY=x${EVOLINK_API_KEY}\nEXTRA=${EVOLINK_API_KEY}\n")
    assert config.read_dotenv(tmp_path / ".env").values == {"EVOLINK_API_KEY": "x${EVOLINK_API_KEY}", "EXTRA": "${EVOLINK_API_KEY}"}


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


# --- item 10: .env parsing as users write it ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\ufeffEVOLINK_API_KEY=sk-bom-12345678\n", "sk-bom-12345678"),  # Windows editors
        ('EVOLINK_API_KEY="sk-quoted-12345678" # my key\n', "sk-quoted-12345678"),
        ("EVOLINK_API_KEY='sk-single-12345678'   # my key\n", "sk-single-12345678"),
        ("export EVOLINK_API_KEY=sk-export-12345678\n", "sk-export-12345678"),
        ("  export  EVOLINK_API_KEY = \"sk-spaced-12345678\"  \r\n", "sk-spaced-12345678"),
        ("EVOLINK_API_KEY=sk-plain-12345678 # comment\n", "sk-plain-12345678"),
        ("# EVOLINK_API_KEY=sk-commented-1234\nEVOLINK_API_KEY=sk-real-12345678\n", "sk-real-12345678"),
    ],
)
def test_dotenv_as_users_write_it(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / ".env").write_bytes(text.encode("utf-8"))
    endpoint = config.resolve()
    assert endpoint.key is not None and endpoint.key.reveal() == expected


def test_a_fifo_dotenv_is_ignored_with_a_note_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    found: list[config.Endpoint] = []
    reader = threading.Thread(target=lambda: found.append(config.resolve()), daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # let the blocked reader go before failing
        with open(fifo, "w"):
            pass
        reader.join(timeout=5)
        pytest.fail("reading a FIFO .env blocked the kernel")
    (endpoint,) = found
    assert endpoint.key is None
    (note,) = endpoint.notes
    assert str(fifo) in note and "not a regular file" in note and len(note.splitlines()) == 1


def test_a_huge_or_odd_dotenv_is_ignored_with_a_note(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("EVOLINK_API_KEY=sk-huge-12345678\n" + "# padding\n" * 200_000)
    started = time.monotonic()
    endpoint = config.resolve()
    assert time.monotonic() - started < 1
    assert endpoint.key is None
    (note,) = endpoint.notes
    assert str(dotenv) in note and "ignored" in note and "KiB" in note
    dotenv.write_bytes(b"EVOLINK_API_KEY=sk-latin1-\xe9\xe9\xe9\xe9\n")
    (note,) = config.resolve().notes
    assert "UTF-8" in note
    dotenv.unlink()
    dotenv.mkdir()
    (note,) = config.resolve().notes
    assert "not a regular file" in note
    dotenv.rmdir()
    dotenv.write_text("EVOLINK_API_KEY=sk-fine-12345678\nthis is not a line of a .env\n")
    endpoint = config.resolve()
    assert endpoint.key == config.Secret("sk-fine-12345678")
    (note,) = endpoint.notes
    assert "line 2" in note and str(dotenv) in note


def test_every_line_that_is_not_key_value_is_named_in_one_note() -> None:
    one = config.parse_dotenv(b"A=1\nnot a binding\n", "/x/.env")
    two = config.parse_dotenv(b"not one\nA=1\nnor this\n", "/x/.env")
    assert one.notes == ("/x/.env: line 2 skipped, not KEY=value",)
    assert two.notes == ("/x/.env: line 1, line 3 skipped, not KEY=value",)
    assert one.values == two.values == {"A": "1"}


def test_no_dotenv_no_note(tmp_path: Path) -> None:
    assert config.resolve().notes == ()


# --- property: any value, written any way a user would, reads back exactly -----------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
VALUES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)


def _plain_ok(value: str) -> bool:
    """A value a user would write without quotes."""
    return (
        value == value.strip()
        and not any(c in value for c in "\"'#\\\n\r")
        and value.isprintable()
        and not value.startswith(("'", '"'))
    )


def _write(name: str, value: str, style: str, export: bool, comment: bool) -> str:
    if style == "plain" and _plain_ok(value):
        rendered = value
    elif style == "single" and "'" not in value and "\\" not in value:
        rendered = f"'{value}'"
    else:
        rendered = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    line = f"{'export ' if export else ''}{name}={rendered}"
    return line + ("  # a comment" if comment and rendered != "" else "")


@settings(max_examples=150, deadline=None)
@given(
    entries=st.dictionaries(
        NAMES,
        st.tuples(VALUES, st.sampled_from(["plain", "single", "double"]), st.booleans(), st.booleans()),
        max_size=6,
    ),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    blank_lines=st.booleans(),
)
def test_property_dotenv_values_read_back_exactly(
    entries: dict[str, tuple[str, str, bool, bool]], bom: bool, newline: str, blank_lines: bool
) -> None:
    lines = ["# written by hand"] if blank_lines else []
    for name, (value, style, export, comment) in entries.items():
        lines.append(_write(name, value, style, export, comment))
        if blank_lines:
            lines.append("")
    text = ("\ufeff" if bom else "") + newline.join(lines) + newline
    parsed = config.parse_dotenv(text.encode("utf-8"), "/x/.env")
    assert parsed.notes == ()
    assert parsed.values == {name: value for name, (value, *_rest) in entries.items()}


def test_the_magic_and_config_tell_where_settings_come_from_and_what_was_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from .conftest import use_emulator

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
