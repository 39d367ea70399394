"""Retry, fallback and close policy of the transport, with httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

import evo_magic
from evo_magic import errors
from evo_magic.config import Endpoint, Secret
from evo_magic.runtime import root
from evo_magic.transport import (
    BACKOFF_CAP_S,
    RETRY_AFTER_CAP_S,
    Transport,
    TransportSettings,
    backoff_delay,
)

from .keys import TOKEN, frames_and_locals

A, B = "http://127.0.0.1:7001", "http://127.0.0.1:7002"
SSE = b'data: {"id":"1","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


NOW = datetime(2026, 5, 2, 13, 5, 0, tzinfo=timezone.utc)


def make(handler, urls=(A, B), retries=3):
    """A transport over ``handler`` that records its waits instead of sleeping; clock at NOW."""
    sleeps: list[float] = []
    t = Transport(
        Endpoint(tuple(urls), Secret("sk-test-key-1234")),
        TransportSettings(max_retries=retries),
        http_transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=lambda: 0.5,
        clock=lambda: NOW,
    )
    return t, sleeps


def ok_stream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=SSE)


def test_bearer_header_and_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_stream(request)

    t, _ = make(handler)
    with t.post("/v1/chat/completions", {"stream": True}) as response:
        assert list(t.iter_sse_data(response))[-1] == "[DONE]"
    assert seen[0].headers["authorization"] == "Bearer sk-test-key-1234"
    assert seen[0].url == A + "/v1/chat/completions"


def http_date(seconds_from_now: float) -> str:
    return format_datetime(NOW + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"retry-after": "2"}, 2.0),
        # an HTTP date counts from the response's Date header (this server's clock is 100 s behind)
        ({"date": http_date(-100), "retry-after": http_date(-93)}, 7.0),
        ({"retry-after": http_date(12)}, 12.0),  # and without one, from now
    ],
    ids=["seconds", "date-vs-date-header", "date-vs-now"],
)
def test_429_honours_retry_after_then_succeeds(headers: dict[str, str], waited: float) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host + str(request.url.port))
        if len(calls) == 1:
            return httpx.Response(429, headers=headers, json={"error": {"message": "slow down"}})
        return ok_stream(request)

    t, sleeps = make(handler)
    with t.post("/p", {"stream": True}):
        pass
    assert sleeps == [waited] and len(calls) == 2


def test_5xx_moves_to_next_base_url_with_backoff() -> None:
    hosts = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.port)
        if request.url.port == 7001:
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        return ok_stream(request)

    t, sleeps = make(handler)
    with t.post("/p", {"stream": True}):
        pass
    assert hosts == [7001, 7002]
    assert sleeps == [0.5 * 0.5]  # full jitter of the first backoff step


def test_refused_connection_falls_back() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 7001:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return ok_stream(request)

    t, _ = make(handler)
    with t.post("/p", {"stream": True}) as response:
        assert response.url.port == 7002


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    t, sleeps = make(handler, retries=2)
    with pytest.raises(errors.ServerError, match="boom"), t.post("/p", {}):
        pass
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 402, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"error": {"message": f"nope {status}"}})

    t, sleeps = make(handler)
    with pytest.raises(errors.ApiError) as info, t.post("/p", {}):
        pass
    assert info.value.status == status and len(calls) == 1 and sleeps == []


def test_no_retry_once_the_body_started() -> None:
    calls = []

    def broken_body():
        yield SSE[:40]
        raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=broken_body()
        )

    t, sleeps = make(handler)
    with (
        pytest.raises(errors.TransportError, match="mid-answer"),
        t.post("/p", {"stream": True}) as r,
    ):
        list(t.iter_sse_data(r))
    assert len(calls) == 1 and sleeps == []


def test_response_closed_on_interrupt() -> None:
    closed = []

    class Stream(httpx.SyncByteStream):
        def __iter__(self):
            yield SSE[:30]
            yield SSE[30:]

        def close(self) -> None:
            closed.append(True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream())

    t, _ = make(handler)
    with pytest.raises(KeyboardInterrupt), t.post("/p", {"stream": True}):
        raise KeyboardInterrupt
    assert closed == [True]


def test_error_messages_never_contain_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={
                "error": {
                    "message": "Authentication Fails, Your api key: sk-test-key-1234 is invalid"
                }
            },
        )

    t, _ = make(handler)
    with pytest.raises(errors.AuthenticationError) as info, t.post("/p", {}):
        pass
    assert "sk-test-key-1234" not in repr(t)
    assert "sk-test-key-1234" not in str(info.value) and "test-key" not in info.value.one_line()
    assert "EVOLINK_API_KEY" in info.value.one_line()


def test_backoff_is_capped() -> None:
    assert backoff_delay(20, None, lambda: 1.0) == BACKOFF_CAP_S
    assert backoff_delay(1, 999.0, lambda: 1.0) == RETRY_AFTER_CAP_S


# --- issue 11: a dead first host, 404 fallback, Retry-After, corrupt gzip -----------------
def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def status(code: int, message: str, **headers: str):
    return lambda request: httpx.Response(code, headers=headers, json={"error": {"message": message}})


def per_host(at_a, at_b, seen: list[int | None] | None = None):
    """A handler answering requests to A with ``at_a`` and to B with ``at_b`` (handlers, or
    lists of handlers taken in turn), noting the ports asked in ``seen``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request.url.port)
        answer = at_a if request.url.port == 7001 else at_b
        return (answer.pop(0) if isinstance(answer, list) else answer)(request)

    return handler


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC (the wait message shows local wall-clock time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_dead_first_host_and_503_twice_then_200_answers_from_the_second() -> None:
    hosts: list[int | None] = []
    overloaded = status(503, "Server Overloaded")
    t, sleeps = make(per_host(refused, [overloaded, overloaded, ok_stream], hosts))
    with t.post("/p", {"stream": True}) as response:
        assert response.url.port == 7002
        assert list(t.iter_sse_data(response))[-1] == "[DONE]"
    assert hosts == [7001, 7002, 7002, 7002]  # the refusing host is never tried again
    assert sleeps == [0.25, 0.5]  # no wait after a refusal; backoff between the 503s


def test_a_refusing_host_is_dropped_and_the_error_names_the_last_real_cause() -> None:
    hosts: list[int | None] = []
    t, sleeps = make(per_host(refused, status(503, "Server Overloaded"), hosts))
    with pytest.raises(errors.ServerError) as info, t.post("/p", {}):
        pass
    assert hosts == [7001, 7002, 7002, 7002, 7002] and len(sleeps) == 3
    assert info.value.one_line() == (  # the last real cause first, then what each other URL did
        f"HTTP 503: Server Overloaded ({B}/p, 4 tries); {A}/p: connection refused"
    )


@pytest.mark.parametrize(
    ("at_a", "at_b", "expected"),
    [
        (refused, refused, f"cannot connect to {B} (connection refused); {A}/p: connection refused"),
        (status(404, "Unknown path /p"), refused, f"HTTP 404: Unknown path /p ({A}/p); {B}/p: connection refused"),
        (refused, status(404, "Unknown path /p"), f"HTTP 404: Unknown path /p ({B}/p); {A}/p: connection refused"),
        (refused, status(401, "Authentication Fails"),
         f"HTTP 401: Authentication Fails ({B}/p); {A}/p: connection refused {errors.AuthenticationError.hint}"),
    ],
    ids=["both-refused", "404-then-refused", "refused-then-404", "refused-then-401"],
)
def test_when_every_host_failed_the_error_says_which_url_answered_what(at_a, at_b, expected: str) -> None:
    hosts: list[int | None] = []
    t, sleeps = make(per_host(at_a, at_b, hosts))
    with pytest.raises(errors.EvoMagicError) as info, t.post("/p", {}):
        pass
    assert hosts == [7001, 7002] and sleeps == []  # each tried once, at once
    assert info.value.one_line() == expected


def test_a_404_from_the_first_base_url_falls_back_to_the_next() -> None:
    hosts: list[int | None] = []
    t, sleeps = make(per_host(status(404, "Unknown path /p"), ok_stream, hosts))
    with t.post("/p", {"stream": True}) as response:
        assert response.url.port == 7002
    assert hosts == [7001, 7002] and sleeps == []


def test_the_host_that_answered_is_tried_first_next_time() -> None:
    hosts: list[int | None] = []
    t, _ = make(per_host(refused, ok_stream, hosts))
    for _ in range(2):
        with t.post("/p", {"stream": True}):
            pass
    assert hosts == [7001, 7002, 7002]


@pytest.mark.parametrize("header", ["3600", http_date(3600)])
def test_a_wait_beyond_the_cap_gives_up_at_once(utc: None, header: str) -> None:
    calls: list[int | None] = []
    t, sleeps = make(per_host(status(429, "Rate Limit Reached", **{"retry-after": header}), ok_stream, calls), (A,))
    with pytest.raises(errors.RateLimitError) as info, t.post("/p", {}):
        pass
    assert sleeps == [] and len(calls) == 1  # no 3 x 30 s of blocking
    assert info.value.one_line() == (
        f"HTTP 429: Rate Limit Reached ({A}/p) — the server asks to wait 60 minutes (until 14:05 UTC); try again then"
    )


def test_a_host_asking_for_a_long_wait_hands_over_to_the_next(utc: None) -> None:
    hosts: list[int | None] = []
    t, sleeps = make(per_host(status(503, "maintenance", **{"retry-after": "7200"}), ok_stream, hosts))
    with t.post("/p", {"stream": True}) as response:
        assert response.url.port == 7002
    assert hosts == [7001, 7002] and sleeps == []


def corrupt_gzip(status: int, good: bytes = b"", content_type: str = "application/json") -> httpx.Response:
    """A response whose body says gzip: ``good`` compressed, then bytes that are not deflate data."""
    c = zlib.compressobj(wbits=31)
    head = c.compress(good) + c.flush(zlib.Z_SYNC_FLUSH)

    def body() -> Iterator[bytes]:
        yield head
        yield b"\xff\xfe this is not gzip"

    return httpx.Response(status, headers={"content-encoding": "gzip", "content-type": content_type}, content=body())


def test_a_corrupt_gzip_error_body_is_a_one_line_error() -> None:
    t, _ = make(lambda request: corrupt_gzip(400), urls=(A,))
    with pytest.raises(errors.BadRequestError) as info, t.post("/p", {}):
        pass
    assert info.value.one_line() == f"HTTP 400: the error body could not be decoded as gzip ({A}/p)"


def test_an_error_body_cut_off_by_the_network_is_still_its_status_error() -> None:
    def cut_off(status: int):
        def body() -> Iterator[bytes]:
            yield b'{"error": {"mess'
            raise httpx.ReadError("connection reset by peer")

        return lambda request: httpx.Response(status, headers={"content-type": "application/json"}, content=body())

    t, sleeps = make(per_host([cut_off(503), ok_stream], ok_stream), (A,))
    with t.post("/p", {"stream": True}) as response:  # a 5xx is still retried
        assert response.status_code == 200 and sleeps == [0.25]
    t, _ = make(cut_off(400), (A,))
    with pytest.raises(errors.BadRequestError) as info, t.post("/p", {}):
        pass
    assert info.value.one_line() == f"HTTP 400: the error body was cut off (ReadError) ({A}/p)"


def test_a_corrupt_gzip_5xx_body_is_still_retried() -> None:
    answers = iter([corrupt_gzip(503)])
    t, sleeps = make(lambda request: next(answers, None) or ok_stream(request), urls=(A,))
    with t.post("/p", {"stream": True}) as response:
        assert response.status_code == 200
    assert sleeps == [0.25]


def test_a_corrupt_gzip_answer_is_a_protocol_error() -> None:
    t, _ = make(lambda request: corrupt_gzip(200), urls=(A,))
    with pytest.raises(errors.ProtocolError) as info, t.post("/p", {}) as response:
        response.read()
    assert info.value.one_line().startswith(f"the answer from {A}/p could not be decoded as gzip (")


def test_a_stream_turning_corrupt_keeps_what_came_before() -> None:
    event = b'data: {"n":1}\n\n'
    t, sleeps = make(lambda request: corrupt_gzip(200, event, "text/event-stream"), urls=(A,))
    got: list[str] = []
    with pytest.raises(errors.ProtocolError, match="could not be decoded"), t.post("/p", {"stream": True}) as r:
        got.extend(t.iter_sse_data(r))
    assert got == ['{"n":1}'] and sleeps == []  # never retried once the body started


@pytest.mark.parametrize("stream", [True, False])
def test_a_corrupt_gzip_answer_ends_the_turn_cleanly(monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    """Through a session: one-line error, the partial answer kept, the ledger row settled,
    nothing added to the history."""
    chunk = {"id": "r1", "model": "deepseek-v4-flash", "choices": [{"index": 0, "delta": {"content": "Hello "}}]}
    head = b"data: " + json.dumps(chunk).encode() + b"\n\n" if stream else b'{"id": "r1", "choi'
    content_type = "text/event-stream" if stream else "application/json"
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-gzip-test-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", A)
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/gzip.ipynb")
    root().transport_options = {"http_transport": httpx.MockTransport(lambda r: corrupt_gzip(200, head, content_type))}
    acc = root().accounting
    try:
        session = evo_magic.session()
        with pytest.raises(errors.ProtocolError) as info:
            session.ask("hi", stream=stream)
        assert "could not be decoded" in info.value.one_line() and "Traceback" not in info.value.one_line()
        reply = info.value.reply  # type: ignore[attr-defined]
        assert reply.status == "error" and reply.text == ("Hello " if stream else "")
        assert [r.outcome for r in acc.ledger.rows(acc.notebook)] == ["error"]
        assert session.history == []
    finally:
        acc.close()


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


def test_every_client_shares_one_tls_context_built_as_httpx_builds_its_default(monkeypatch) -> None:
    """Loading the CA bundle costs ~40 ms: once per process (the warm-up builds it after
    %load_ext), not once per transport; httpx's own default (certifi, SSL_CERT_FILE)."""
    from evo_magic.batch.lanes import LaneTransport
    from evo_magic.transport import tls_context

    built: list[object] = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: built.append(k) or real(*a, **k))
    tls_context.cache_clear()
    first = Transport(Endpoint(("https://a.example",), Secret(TOKEN)))
    second = Transport(Endpoint(("https://b.example",), Secret(TOKEN)))
    lanes = LaneTransport()
    assert lanes._lane(0)._pool._ssl_context is tls_context()
    for t in (first, second):
        assert t.client._transport._pool._ssl_context is tls_context()
    assert len(built) == 1
