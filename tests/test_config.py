from __future__ import annotations

from pathlib import Path

import pytest

from evo_magic import config
from evo_magic.errors import ConfigError


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
