"""A key inside EVOLINK_BASE_URL (pasted into the wrong variable, or part of a gateway path) is
never shown: not by %deepseek config, a repr, the URL validation error or a transport error."""

from __future__ import annotations

import socket

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from evo_magic import config, errors
from evo_magic.config import Endpoint, Secret, parse_base_urls, shown_url
from evo_magic.transport import Transport, TransportSettings

PASTED = "sk-PASTED0a1b2c3d4e5f6a7b8c"  # the key, pasted into EVOLINK_BASE_URL
TOKEN = "Zq9Xw8Vu7Ts6Rq5Po4Nm3"  # a gateway token in a path: not sk-shaped, never remembered
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


def test_a_transport_error_never_shows_a_key_in_the_url() -> None:
    ports = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()  # nothing listens: refused
    bases = tuple(f"http://127.0.0.1:{port}/{TOKEN}{i}" for i, port in enumerate(ports))
    endpoint = Endpoint(bases, Secret("sk-real-key-99990000"))
    t = Transport(endpoint, TransportSettings(max_retries=1), sleep=lambda s: None)
    try:
        with pytest.raises(errors.TransportError) as caught, t.post("/v1/chat/completions", {"stream": True}):
            pass
    finally:
        t.close()
    message = caught.value.one_line()  # names what each base URL did
    assert TOKEN not in message and "Nm3" not in message and all(f"127.0.0.1:{p}" in message for p in ports), message

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"read failed for {request.url}")

    t = Transport(endpoint, TransportSettings(max_retries=0), http_transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(errors.TransportError) as caught, t.post("/v1/chat/completions", {"stream": True}):
            pass
    finally:
        t.close()
    assert TOKEN not in caught.value.one_line(), caught.value.one_line()
