"""The run's wire (HTTP/1.1 on asyncio streams) against a loopback server that answers with
exactly the bytes each test gives: bodies by length, chunks or the connection's end, gzip and
deflate, keep-alive and a stale connection, and failures raised as httpx's types."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable

import httpx
import pytest

from evo_magic.batch.connection import Wire, needs_proxy

from ..conftest import run_async

JSON = b'{"ok": true}'


def answer(body: bytes = JSON, *, headers: str = "", length: bool = True) -> bytes:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def serve(replies: list[bytes | Callable[[asyncio.StreamWriter], object]], seen: list[bytes]) -> asyncio.Server:
    """A server that reads each request whole and answers with the next of ``replies``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while replies:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(next(v for k, _, v in (ln.partition(b": ") for ln in head.split(b"\r\n"))
                              if k.lower() == b"content-length"))  # fmt: skip
            seen.append(head + await reader.readexactly(length))
            reply = replies.pop(0)
            if callable(reply):
                reply(writer)
                break
            writer.write(reply)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def exchange(replies: list, requests: int = 1, **wire: float) -> tuple[list[bytes | Exception], list[bytes], Wire]:
    seen: list[bytes] = []

    async def main() -> tuple[list[bytes | Exception], Wire]:
        server = await serve(replies, seen)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api"
        w = Wire({"Authorization": "Bearer sk-wire-test-1111"}, wire.get("connect", 2.0), wire.get("read", 2.0))
        got: list[bytes | Exception] = []
        for _ in range(requests):
            try:
                reply = await w.send(0, base, "/v1/chat/completions", b'{"model": "m"}')
                try:
                    got.append(await reply.read())
                finally:
                    await reply.aclose()
            except httpx.HTTPError as exc:
                got.append(exc)
        await w.aclose()
        await asyncio.sleep(0.05)  # the server's handlers see the connections close
        server.close()
        return got, w

    got, w = run_async(main())
    return got, seen, w


def test_a_post_carries_the_path_host_headers_and_body_and_the_connection_is_kept() -> None:
    got, seen, wire = exchange([answer(), answer(b"{}")], requests=2)
    assert got == [JSON, b"{}"] and wire.opened == 1
    head = seen[0].decode()
    assert head.startswith("POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert "Authorization: Bearer sk-wire-test-1111\r\n" in head and "Accept-Encoding: gzip, deflate" in head
    assert "Content-Length: 14\r\n\r\n" in head and seen[0].endswith(b'{"model": "m"}')


def test_chunked_gzip_deflate_and_a_body_that_ends_with_the_connection() -> None:
    chunked = answer(b"5\r\n{\"ok\"\r\n7\r\n: true}\r\n0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n", length=False)
    zipped = gzip.compress(JSON)
    got, _, _ = exchange([chunked, answer(zipped, headers="Content-Encoding: gzip\r\n"),
                          answer(zlib.compress(JSON), headers="Content-Encoding: deflate\r\n")], requests=3)
    assert got == [JSON, JSON, JSON]
    ends = answer(JSON, length=False)
    until_close, _, wire = exchange([lambda w: w.write(ends), answer()], requests=2)
    assert until_close == [JSON, JSON] and wire.opened == 2  # the first answer ended its connection


def test_a_stale_keep_alive_connection_is_replaced_once_without_a_failure() -> None:
    got, seen, wire = exchange([answer(), lambda w: None, answer()], requests=2)  # the 2nd: closed unanswered
    assert got == [JSON, JSON] and wire.opened == 2 and len(seen) == 3  # the 2nd request went twice


@pytest.mark.parametrize("reply,kind,text", [
    (lambda w: None, httpx.RemoteProtocolError, "closed the connection without an answer"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", httpx.RemoteProtocolError, "not an HTTP/1.1 answer"),
    (answer(b"not gzip", headers="Content-Encoding: gzip\r\n"), httpx.DecodingError, "gzip encoding is broken"),
    (answer(JSON)[:-4], httpx.ReadError, "the answer broke off"),
    (answer(JSON, headers="Content-Encoding: br\r\n"), httpx.DecodingError, "br encoding"),
])  # fmt: skip
def test_failures_are_httpx_errors(reply, kind: type, text: str) -> None:
    replies = [reply]
    if isinstance(reply, bytes) and reply == answer(JSON)[:-4]:
        replies = [lambda w: w.write(answer(JSON)[:-4])]  # part of the body, then the connection closes
    (got,), _, _ = exchange(replies)
    assert isinstance(got, kind) and text in str(got)


def test_no_answer_in_time_is_a_read_timeout_and_nobody_listening_a_connect_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # until the client gives up and closes
        finally:
            writer.close()

    async def main() -> list[Exception]:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        w = Wire({}, 1.0, 0.2)
        errors: list[Exception] = []
        for base in (f"http://127.0.0.1:{port}", "http://127.0.0.1:9"):
            with pytest.raises(httpx.HTTPError) as info:
                await w.send(0, base, "/x", b"{}")
            errors.append(info.value)
        await w.aclose()
        await asyncio.sleep(0.05)
        server.close()
        return errors

    timeout, refused = run_async(main())
    assert isinstance(timeout, httpx.ReadTimeout) and isinstance(refused, httpx.ConnectError)


def test_the_key_is_in_no_repr() -> None:
    w = Wire({"Authorization": "Bearer sk-wire-test-1111"}, 1.0, 1.0)
    assert "sk-wire" not in repr(vars(w)) and "sk-wire" not in repr(w._head)


def test_a_proxy_in_the_environment_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert not needs_proxy("https://api.evolink.ai")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert needs_proxy("https://api.evolink.ai") and not needs_proxy("http://127.0.0.1:8000")
    monkeypatch.setenv("NO_PROXY", "api.evolink.ai")
    assert not needs_proxy("https://api.evolink.ai")
