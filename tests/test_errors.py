"""The API key never shows: not in an error quoting server bytes, not in a traceback's locals,
not in the prompt history, the ledger or a panel; a key or URL that cannot be used is a one-line
ConfigError that does not repeat it."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

import evo_magic
import evo_magic.ledger.accounting as accounting
from evo_magic import errors
from evo_magic.config import Endpoint, Secret, parse_base_urls
from evo_magic.ledger.budget import BudgetExceeded
from evo_magic.transport import Transport, TransportSettings

from .conftest import use_emulator
from .kernel import Kernel

ODD_KEY = "evlk_AUDIT9f8e7d6c5b4a"  # not shaped like sk-…: only remembering it masks it


def frames_and_locals(exc: BaseException, skip: int = 0) -> str:
    """The traceback as %xmode Verbose or a debugger would show it: every frame's locals."""
    tb = exc.__traceback__
    for _ in range(skip):
        tb = tb.tb_next if tb is not None else None
    return "".join(traceback.TracebackException(type(exc), exc, tb, capture_locals=True).format())


def test_errors_quoting_server_bytes_never_show_a_remembered_key() -> None:
    Secret(ODD_KEY)  # read as the API key
    for err in (
        errors.ProtocolError(f"malformed event from the server: '{{bad {ODD_KEY}'"),
        errors.ApiError(f"quota exceeded for key {ODD_KEY}"),
        errors.TransportError(f"request failed: Bearer {ODD_KEY}"),
    ):
        shown = [str(err), repr(err), err.one_line(), *err._render_traceback_(), frames_and_locals(err)]
        assert all(ODD_KEY not in s for s in shown), shown
        assert "****5b4a" in str(err)
    assert errors.redact(f"x {ODD_KEY} y") == "x ****5b4a y"
    assert errors.scrub("key=" + ODD_KEY + " \ud800!") == "key=****5b4a \ufffd!"
    assert errors.scrub("plain text, sk-learn and all") == "plain text, sk-learn and all"  # only real secrets


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


def test_an_unexpected_failure_while_sending_keeps_the_key_out_of_every_frame() -> None:
    key = "sk-FRAMES-0a1b2c3d4e5f"

    def handler(request: httpx.Request) -> httpx.Response:
        raise ValueError("Timeout value out of range")  # e.g. a setting httpx rejects

    t = Transport(
        Endpoint(("http://127.0.0.1:7001",), Secret(key)),
        TransportSettings(max_retries=0),
        http_transport=httpx.MockTransport(handler),
    )
    with pytest.raises(errors.TransportError) as caught, t.post("/v1/chat/completions", {"stream": True}):
        pass
    err = caught.value
    assert "could not be sent (ValueError: Timeout value out of range)" in err.one_line()
    assert err.__suppress_context__ and err.__cause__ is None  # httpx's frames are not shown
    verbose = frames_and_locals(err, skip=1)  # from the transport down (this test holds the key)
    assert "headers = Headers(" in verbose and key not in verbose and "0a1b2c3d4e5f" not in verbose


# --- the session: what is sent and kept ----------------------------------------------------
@pytest.fixture
def online(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_emulator(monkeypatch, emulator.url, "/work/secrets.ipynb", ODD_KEY)
    if accounting._current is not None:
        accounting._current.close()
    accounting._current = None
    acc = accounting.install(None, None)
    yield acc
    acc.close()
    accounting._current = None


def test_a_prompt_holding_the_key_is_sent_and_kept_masked(online: accounting.Accounting, emulator: Any) -> None:
    traceback_text = f"Traceback ...\nRuntimeError: auth failed with key {ODD_KEY}\nlone \ud800 surrogate"
    reply = evo_magic.session().ask(f"Explain this error:\n{traceback_text}", system=f"key {ODD_KEY}")
    assert reply.ok
    sent = json.dumps(emulator.requests[-1], ensure_ascii=False)
    assert ODD_KEY not in sent and "****5b4a" in sent and "\ufffd" in sent
    turns = evo_magic.session().turns
    history = repr(turns) + json.dumps([m.to_record() for t in turns for m in t.messages], ensure_ascii=False)
    assert ODD_KEY not in history
    stored = online.ledger.turns("/work/secrets.ipynb", "default")
    assert stored and all(ODD_KEY not in json.dumps(record.messages) + record.prompt for _, record in stored)


def test_an_unusable_ledger_is_said_once_and_a_budget_it_cannot_check_refuses(
    online: accounting.Accounting, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[Any] = []
    online.close()
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "afile" / "sub"))  # under a regular file
    online._show = shown.append
    logged: list[str] = []
    monkeypatch.setattr("evo_magic.sessions.registry.log.exception", lambda *a, **k: logged.append(str(a)))
    assert evo_magic.session().ask("What is 2+2?").ok  # the answer still comes
    assert evo_magic.session().ask("And 3+3?").ok
    assert len(shown) == 1 and "Usage is not being recorded" in shown[0].text and logged == []
    online.budget = Decimal("1")
    with pytest.raises(BudgetExceeded) as caught:
        evo_magic.session().ask("One more?")
    assert "spend cannot be read" in caught.value.one_line() and "budget off" in caught.value.one_line()


@pytest.mark.kernel
def test_verbose_tracebacks_in_a_kernel_never_show_the_key(emulator: Any, tmp_path: Any) -> None:
    key = "sk-KERNEL-VERBOSE-77aa88bb"
    k = Kernel(
        {
            "EVOLINK_API_KEY": key,
            "EVOLINK_BASE_URL": emulator.url,
            "EVO_MAGIC_HOME": str(tmp_path / "home"),
            "JPY_SESSION_NAME": "/work/verbose.ipynb",
        }
    )
    try:
        assert k.execute("%load_ext evo_magic\n%xmode Verbose").ok
        broken = k.execute(
            "import httpx, evo_magic\n"
            "def boom(*a, **k):\n    raise ValueError('a bug below the transport')\n"
            "httpx.Client.send = boom\n"
            "evo_magic.session().ask('hi')"
        )
        assert not broken.ok and "could not be sent (ValueError: a bug below the transport)" in broken.error_text
        cell = k.execute("%%deepseek\nhi")
        assert not cell.ok and len(cell.error_text.strip().splitlines()) == 1
        everything = json.dumps([m["content"] for ex in (broken, cell) for m in ex.messages], default=str)
        assert key not in everything and "KERNEL-VERBOSE" not in everything
    finally:
        k.close()
