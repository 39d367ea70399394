"""Retry, fallback and close policy of the transport, with httpx.MockTransport (no sockets)."""

from __future__ import annotations

import httpx
import pytest

from evo_magic import errors
from evo_magic.config import Endpoint, Secret
from evo_magic.transport import (
    BACKOFF_CAP_S,
    RETRY_AFTER_CAP_S,
    Transport,
    TransportSettings,
    backoff_delay,
)

A, B = "http://127.0.0.1:7001", "http://127.0.0.1:7002"
SSE = b'data: {"id":"1","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def make(handler, urls=(A, B), retries=3):
    sleeps: list[float] = []
    t = Transport(
        Endpoint(tuple(urls), Secret("sk-test-key-1234")),
        TransportSettings(max_retries=retries),
        http_transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=lambda: 0.5,
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


def test_429_honours_retry_after_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host + str(request.url.port))
        if len(calls) == 1:
            return httpx.Response(
                429, headers={"retry-after": "2"}, json={"error": {"message": "slow down"}}
            )
        return ok_stream(request)

    t, sleeps = make(handler)
    with t.post("/p", {"stream": True}):
        pass
    assert sleeps == [2.0] and len(calls) == 2


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
