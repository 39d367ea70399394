"""The wire of a run: one keep-alive HTTP/1.1 connection per lane, on asyncio streams (IO).

A run sends hundreds of requests a second, all alike: a POST of a JSON body to one of a few
base URLs, a JSON answer back. httpx's client and httpcore's connection spend ~1 ms of CPU on
each (request and URL objects, header validation, an anyio cancel scope around every read) —
more than everything else a row costs together. So each of the scheduler's lanes keeps one
connection and speaks just that much HTTP/1.1 itself (:class:`Wire`): the request's head built
once per run, the answer's status line and headers read in one ``readuntil``, its body by
Content-Length, chunks or the connection's end, gzip and deflate decoded.

It fails the way httpx does — the same exception types (``ConnectError``, ``ConnectTimeout``,
``ReadTimeout``, ``RemoteProtocolError`` for a connection closed before any answer byte,
``ReadError`` and ``DecodingError`` after) — so :func:`~evo_magic.transport.failure_of` and the
scheduler treat both alike. Where a proxy is configured for a base URL (``HTTPS_PROXY`` and
the like, :func:`needs_proxy`) the scheduler sends through httpx (:mod:`~evo_magic.batch.lanes`).
The API key is in the request's head, which no repr shows and no local variable holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
import urllib.request
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from ..transport import tls_context

HEAD_LIMIT = 1 << 16  # bytes of status line and headers
DECODERS = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


def needs_proxy(base: str) -> bool:
    """Whether the environment sends ``base`` through a proxy (``HTTPS_PROXY``, ``NO_PROXY``, ...)."""
    parts = urlsplit(base)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


class _Head:
    """The request head's fixed part (it holds the key): bytes no repr shows."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return "<request head>"


@dataclass
class Answer:
    """An answer whose status line and headers are read; :meth:`read` reads its body, once."""

    status: int
    raw_headers: list[tuple[bytes, bytes]]
    _connection: _Connection
    _done: bool = False

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(self.raw_headers)

    async def read(self) -> bytes:
        """The body, decoded (httpx's ReadError, ReadTimeout or DecodingError when it breaks off)."""
        body = await self._connection.body(self.raw_headers)
        self._done = True
        return body

    async def aclose(self) -> None:
        """Give the connection back for the next request, or close it if this answer was not
        read to its end (a Stop, a timeout) or the server said it closes."""
        self._connection.release(reuse=self._done)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, read_timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.read_timeout = read_timeout
        self.used = False  # an answer came on it: a close before the next one is a stale keep-alive
        self.keep = True
        self.free = True

    async def send(self, request: bytes) -> Answer:
        self.free = False
        try:
            self.writer.write(request)
            async with _deadline(self.read_timeout):
                head = await self.reader.readuntil(b"\r\n\r\n")
        except BaseException as exc:  # no answer: the connection is done (a Stop: the request abandoned)
            self.release(reuse=False)
            raise _unanswered(exc, self.read_timeout) from None
        self.used = True
        status, headers = _parse_head(head)
        if _value(headers, b"connection").lower() == b"close":
            self.keep = False
        return Answer(status, headers, self)

    async def body(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        try:
            async with _deadline(self.read_timeout):
                raw = await self._body(headers)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            self.keep = False
            raise httpx.ReadError(f"the answer broke off ({type(exc).__name__})") from None
        except TimeoutError:
            self.keep = False
            raise httpx.ReadTimeout(f"the answer stopped for {self.read_timeout:g} s") from None
        except BaseException:
            self.release(reuse=False)
            raise
        encoding = _value(headers, b"content-encoding").lower().strip()
        if encoding in (b"", b"identity"):
            return raw
        try:
            return zlib.decompress(raw, DECODERS[encoding])
        except (KeyError, zlib.error):
            raise httpx.DecodingError(f"the answer's {encoding.decode('latin-1')} encoding is broken") from None

    async def _body(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        if b"chunked" in _value(headers, b"transfer-encoding").lower():
            return b"".join([chunk async for chunk in self._chunks()])
        length = _value(headers, b"content-length")
        if length:
            return await self.reader.readexactly(int(length))
        self.keep = False  # the body ends with the connection
        return await self.reader.read()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return
            yield (await self.reader.readexactly(size + 2))[:-2]

    def release(self, *, reuse: bool) -> None:
        self.free = True
        if not (reuse and self.keep):
            self.keep = False
            self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Wire:
    """The lanes' connections: ``await wire.send(lane, base, path, payload)`` returns the
    :class:`Answer` (its status and headers); read its body, then :meth:`Answer.aclose` it."""

    def __init__(self, headers: Mapping[str, str], connect_timeout: float, read_timeout: float) -> None:
        fixed = {"User-Agent": f"evo_magic/{__version__}", "Accept-Encoding": "gzip, deflate", **headers}
        self._head = _Head("".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1"))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._lanes: dict[tuple[int, str], _Connection] = {}
        self.opened = 0  # connections made (a test reads it)

    async def send(self, lane: int, base: str, path: str, payload: bytes) -> Answer:
        parts = urlsplit(base)
        target = (parts.path.rstrip("/") + path).encode("latin-1")
        start = b"POST " + target + b" HTTP/1.1\r\nHost: " + parts.netloc.encode("idna") + b"\r\n"
        length = b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n"
        connection = self._lanes.get((lane, base))
        if connection is not None and connection.keep and connection.free:
            try:
                return await connection.send(start + self._head.raw + length + payload)
            except httpx.RemoteProtocolError:
                if connection.used:  # a keep-alive connection the server had closed: once more, anew
                    self._lanes.pop((lane, base), None)
                else:
                    raise
        connection = self._lanes[(lane, base)] = await self._open(parts)
        return await connection.send(start + self._head.raw + length + payload)

    async def _open(self, parts: Any) -> _Connection:
        secure = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if secure else 80)
        try:
            async with _deadline(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls_context() if secure else None, server_hostname=host if secure else None,
                    limit=HEAD_LIMIT,
                )  # fmt: skip
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection within {self.connect_timeout:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        self.opened += 1
        return _Connection(reader, writer, self.read_timeout)

    async def aclose(self) -> None:
        lanes, self._lanes = list(self._lanes.values()), {}
        for connection in lanes:
            connection.close()


def _unanswered(exc: BaseException, read_timeout: float) -> BaseException:
    """What a request that got no answer raises: httpx's type for ``exc`` (anything else as it is)."""
    if isinstance(exc, (asyncio.IncompleteReadError, ConnectionError)):
        return httpx.RemoteProtocolError(f"the server closed the connection without an answer ({exc})")
    if isinstance(exc, asyncio.LimitOverrunError):
        return httpx.RemoteProtocolError("the answer's headers are too long")
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(f"no answer within {read_timeout:g} s")
    return exc


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    try:
        if not version.startswith(b"HTTP/1."):
            raise ValueError
        status = int(rest[:3])
    except ValueError:
        raise httpx.RemoteProtocolError(f"not an HTTP/1.1 answer: {lines[0][:40]!r}") from None
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    return status, headers


def _value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k == name), b"")


if sys.version_info >= (3, 11):
    _deadline = asyncio.timeout
else:  # pragma: no cover - Python 3.10

    @contextlib.asynccontextmanager
    async def _deadline(seconds: float) -> AsyncIterator[None]:
        task, fired = asyncio.current_task(), []
        assert task is not None

        def expire() -> None:
            fired.append(True)
            task.cancel()

        handle = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            yield
        except asyncio.CancelledError:
            if fired:
                raise TimeoutError from None
            raise
        finally:
            handle.cancel()


__all__ = ["Answer", "Wire", "needs_proxy"]
