from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from evo_magic import config, errors
from evo_magic.config import Endpoint, Secret, parse_base_urls, shown_url
from evo_magic.errors import ConfigError
from evo_magic.transport import Transport

from .keys import ENV_KEY, PASTED, TOKEN
from .profiles import examples


def test_key_from_environment_wins_over_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("EVOLINK_API_KEY=from-dotenv-1234\n")
    assert config.resolve().key == config.Secret("from-dotenv-1234")
    monkeypatch.setenv("EVOLINK_API_KEY", "from-env-abcd")
    assert config.resolve().key == config.Secret("from-env-abcd")


def test_dotenv_forms(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nexport EVOLINK_API_KEY='quoted key 9876'\nEVOLINK_BASE_URL=http://127.0.0.1:9 # local\n"
    )
    endpoint = config.resolve()
    assert endpoint.key is not None and endpoint.key.reveal() == "quoted key 9876"
    assert endpoint.base_urls == ("http://127.0.0.1:9",)


def test_default_base_urls_and_override_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.resolve().base_urls == ("https://direct.evolink.ai", "https://api.evolink.ai")
    monkeypatch.setenv("EVOLINK_BASE_URL", "http://127.0.0.1:1/v1/, http://127.0.0.1:2")
    assert config.resolve().base_urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    monkeypatch.setenv("EVOLINK_BASE_URL", "ftp://nope")
    with pytest.raises(ConfigError):
        config.resolve()


def test_no_key_message_says_how_to_fix() -> None:
    with pytest.raises(ConfigError) as info:
        config.resolve().require_key()
    msg = info.value.one_line()
    assert "EVOLINK_API_KEY" in msg and ".env" in msg and "%deepseek offline" in msg


def test_secret_never_shows_the_key() -> None:
    secret = config.Secret("sk-very-secret-value-WXYZ")
    for shown in (
        repr(secret),
        str(secret),
        f"{secret}",
        secret.masked,
        repr(config.Endpoint(("u",), secret)),
    ):
        assert "very-secret" not in shown
    assert secret.masked.endswith("WXYZ")
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(secret)


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


def test_no_dotenv_no_note(tmp_path: Path) -> None:
    assert config.resolve().notes == ()


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


@settings(max_examples=examples(150), deadline=None)
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


SECRET_URLS = [
    f"https://gw.example/v1/proxy/{PASTED}",
    f"https://gw.example:8443/{TOKEN}/openai/v1",
    f"https://gw.example/openai?api_key={TOKEN}",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_the_shown_url_keeps_host_and_masks_what_may_be_a_key(url: str) -> None:
    shown = shown_url(url)
    assert PASTED not in shown and TOKEN not in shown and "0a1b2c3d" not in shown and "Nm3" not in shown
    assert shown.startswith(url.split("/")[0] + "//gw.example")
    assert shown_url("https://direct.evolink.ai") == "https://direct.evolink.ai"
    assert shown_url("http://127.0.0.1:8765/v1/gateway") == "http://127.0.0.1:8765/v1/gateway"


def test_a_key_pasted_into_the_url_variable_is_not_repeated_by_the_error() -> None:
    for value in (TOKEN, PASTED, f"http://127.0.0.1:9,{TOKEN}", f"ftp://gw.example/{TOKEN}", f"{TOKEN}://x"):
        with pytest.raises(errors.ConfigError) as caught:
            parse_base_urls(value)
        message = caught.value.one_line()
        assert "0a1b2c3d" not in message and "Nm3" not in message and "EVOLINK_BASE_URL" in message, message


@pytest.mark.parametrize("url", SECRET_URLS)
def test_reprs_and_config_never_show_a_key_in_the_url(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-real-key-99990000")
    monkeypatch.setenv("EVOLINK_BASE_URL", url)
    endpoint = config.resolve()
    transport = Transport(endpoint)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    try:
        table = ip.run_line_magic("deepseek", "config")
    finally:
        ip.extension_manager.unload_extension("evo_magic")
        transport.close()
    for shown in (repr(endpoint), str(endpoint), repr(transport), repr(table), table._repr_html_()):
        assert PASTED not in shown and TOKEN not in shown and "0a1b2c3d" not in shown, shown
        assert "gw.example" in shown


def test_a_key_a_header_cannot_carry_is_a_one_line_error_without_the_key() -> None:
    pasted = "sk\u2011AUDIT\u20119f8e7d6c5b4a"  # non-breaking hyphens, as copy-paste brings them
    with pytest.raises(errors.ConfigError) as caught:
        Endpoint(("http://127.0.0.1:9",), Secret(pasted)).require_key()
    message = caught.value.one_line()
    assert "position 3 (NON-BREAKING HYPHEN)" in message and "9f8e" not in message
    with pytest.raises(errors.ConfigError, match=r"position 8 \(SPACE\)"):
        Endpoint(("http://127.0.0.1:9",), Secret("sk-abcd efgh1234")).require_key()


def test_a_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(errors.ConfigError) as caught:
        parse_base_urls("http://127.0.0.1:9, https://user:hunter2hunter2@gateway.example/v1")
    assert "hunter2" not in caught.value.one_line() and "EVOLINK_API_KEY" in caught.value.one_line()
    assert parse_base_urls("http://127.0.0.1:9/v1,https://a.example/x@y") == (
        "http://127.0.0.1:9",
        "https://a.example/x@y",  # an @ in the path is not a credential
    )
