"""The only network IO: one ``httpx.Client`` per session, retries and fallback, always closed.

Policy (shared/notes/architecture.md habit 5, protocol.md §8, §12.15):

* Retry 429 (honouring ``Retry-After``), 500 / 502 / 503 / 504 and connection failures with
  capped exponential backoff and full jitter — only *before the first body byte*. A host that
  refuses connections or answers 5xx hands over to the next base URL.
* Never retry once the body has started: an error then ends the turn (nothing is replayed or
  billed twice). A read timeout while waiting for the answer is not retried either: the
  request may have been processed ("outcome unknown").
* The response is closed on every path: success, error, ``KeyboardInterrupt``, early exit.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource

from . import __version__
from .config import Endpoint, shown_url
from .errors import (
    ApiError,
    EvoMagicError,
    ProtocolError,
    StreamTimeout,
    TransportError,
    error_from_body,
    redact,
)

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FALLBACK_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class TransportSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 180.0
    max_retries: int = 3


def backoff_delay(attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): Retry-After when the server gave
    one (capped), else full-jitter exponential backoff capped at BACKOFF_CAP_S."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    return rng() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


class Transport:
    """POSTs JSON to the first healthy base URL and hands back an open response."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: TransportSettings | None = None,
        *,
        http_transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        self.endpoint = endpoint
        self.settings = settings or TransportSettings()
        self._sleep = sleep
        self._rng = rng
        s = self.settings
        self.client = httpx.Client(
            transport=http_transport,
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=300),
            headers={"User-Agent": f"evo_magic/{__version__}"},
            follow_redirects=False,
        )
        self._base_index = 0
        self.retries = 0  # retries performed (for tests and diagnostics)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"Transport({self.endpoint!r})"

    # --- request ------------------------------------------------------------------------
    @contextmanager
    def post(self, path: str, body: dict[str, Any]) -> Iterator[httpx.Response]:
        """An open, successful (2xx) response to ``POST {base}{path}``; closed on exit."""
        key = self.endpoint.require_key()
        # surrogates cannot be encoded: U+FFFD instead of an error (prompts are scrubbed earlier)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
        # httpx.Headers, not a dict: its repr masks Authorization, so no traceback's locals show the key
        headers = httpx.Headers(
            {
                "Authorization": f"Bearer {key.reveal()}",
                "Content-Type": "application/json",
                "Accept": "text/event-stream" if body.get("stream") else "application/json",
            }
        )
        response = self._send_with_retries(path, payload, headers)
        try:
            yield response
        except httpx.TimeoutException as exc:
            raise StreamTimeout(
                f"no data from the server for {self.settings.read_timeout:g} s; the partial "
                "answer is kept",
                url=str(response.url),
                retryable=False,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"the connection broke mid-answer ({type(exc).__name__}); the partial answer is kept",
                url=str(response.url),
                retryable=False,
            ) from exc
        finally:
            response.close()

    def _send_with_retries(self, path: str, payload: bytes, headers: httpx.Headers) -> httpx.Response:
        urls = self.endpoint.base_urls
        attempt = 0
        while True:
            base = urls[self._base_index % len(urls)]
            url = base + path
            shown = shown_url(base)  # errors name the host, never a key in the URL
            failure: EvoMagicError
            try:
                request = self.client.build_request("POST", url, content=payload, headers=headers)
                response = self.client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = TransportError(
                    f"cannot connect to {shown} ({_reason(exc)})", url=base, retryable=True
                )
                self._next_base()
            except httpx.TimeoutException as exc:
                raise StreamTimeout(
                    f"{shown} sent no answer within {self.settings.read_timeout:g} s",
                    url=base,
                    retryable=False,
                ) from exc
            except httpx.RemoteProtocolError as exc:
                # the server closed before any response byte (e.g. a stale pooled connection)
                failure = TransportError(
                    f"{shown} closed the connection without an answer", url=base, retryable=True
                )
                log.debug("no response from %s: %s", base, exc)
            except httpx.TransportError as exc:
                raise TransportError(
                    f"request to {shown} failed: {redact(str(exc))}", url=base, retryable=False
                ) from exc
            except Exception as exc:  # not a network failure: a setting httpx rejects, a bug
                # from None: the original's frames (httpx's locals) could hold the header value
                raise TransportError(
                    f"the request to {shown} could not be sent ({type(exc).__name__}: {_reason(exc)})",
                    url=base,
                    retryable=False,
                ) from None
            else:
                if response.status_code < 400:
                    return response
                try:
                    raw = response.read()
                finally:
                    response.close()
                failure = error_from_body(
                    response.status_code,
                    raw,
                    response.headers,
                    self.endpoint.key.reveal() if self.endpoint.key else None,
                )
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                if response.status_code in FALLBACK_STATUSES:
                    self._next_base()
            attempt += 1
            if attempt > self.settings.max_retries:
                raise failure
            retry_after = failure.retry_after if isinstance(failure, ApiError) else None
            delay = backoff_delay(attempt, retry_after, self._rng)
            log.info("retry %d after %.2fs: %s", attempt, delay, failure)
            self.retries += 1
            self._sleep(delay)

    def _next_base(self) -> None:
        self._base_index = (self._base_index + 1) % len(self.endpoint.base_urls)

    # --- decoding -----------------------------------------------------------------------
    def iter_sse_data(self, response: httpx.Response) -> Iterator[str]:
        """The ``data`` payloads of a server-sent event stream (comments and pings skipped)."""
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            # A JSON body where a stream was asked for: hand it over as one payload.
            yield response.read().decode("utf-8", "replace")
            return
        for sse in EventSource(response).iter_sse():
            if sse.event == "error":
                yield json.dumps({"error": _json_or_text(sse.data)})
            elif sse.data:
                yield sse.data


def _json_or_text(data: str) -> Any:
    try:
        value = json.loads(data)
    except ValueError:
        return {"message": data}
    if isinstance(value, dict) and isinstance(value.get("error"), dict):
        return value["error"]
    return value


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return redact(text.splitlines()[0])[:120]


__all__ = ["ProtocolError", "Transport", "TransportSettings", "backoff_delay"]
