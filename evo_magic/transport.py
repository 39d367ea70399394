"""The only network IO: one ``httpx.Client`` per session, retries and fallback, always closed.

Policy (shared/notes/architecture.md habit 5, protocol.md §8, §12.15), decided by the pure
:class:`~evo_magic.fallback.Plan` and carried out here:

* Retry 429 (honouring ``Retry-After``, both forms), 500 / 502 / 503 / 504 and connections closed
  without an answer with capped exponential backoff and full jitter — only *before the first
  body byte*. 5xx hands over to the next base URL; a host that refuses connections or answers
  404 is dropped for the rest of the request; a Retry-After beyond the cap gives up at once.
* Never retry once the body has started: an error then ends the turn (nothing is replayed or
  billed twice). A read timeout while waiting for the answer is not retried either: the
  request may have been processed ("outcome unknown").
* The response is closed on every path: success, error, ``KeyboardInterrupt``, early exit.
* The request starts at the base URL that last answered.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource

from ._version import __version__
from .config import Endpoint, TransportSettings, shown_url
from .errors import (
    ProtocolError,
    StreamTimeout,
    TransportError,
    error_from_body,
    redact,
)
from .fallback import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    RETRY_AFTER_CAP_S,
    Failure,
    GiveUp,
    Plan,
    backoff_delay,
)

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)


@cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of every client this process makes (cells, panels, map lanes), built
    as httpx builds its default (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``):
    loading the bundle costs tens of milliseconds, paid once (by the warm-up after %load_ext)."""
    return httpx.create_ssl_context()


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
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.endpoint = endpoint
        self.settings = settings or TransportSettings()
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        s = self.settings
        self.client = httpx.Client(
            transport=http_transport,
            verify=tls_context(),
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=300),
            headers={"User-Agent": f"evo_magic/{__version__}"},
            follow_redirects=False,
        )
        self._preferred = 0  # index of the base URL that last answered
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
        except httpx.DecodingError as exc:  # e.g. Content-Encoding: gzip over bytes that are not
            raise ProtocolError(
                f"the answer from {shown_url(str(response.url))} could not be decoded as "
                f"{_encoding(response)} ({_reason(exc)})"
            ) from exc
        finally:
            response.close()

    def _send_with_retries(self, path: str, payload: bytes, headers: httpx.Headers) -> httpx.Response:
        """Carry out the fallback plan: send, report each failure, wait or give up as it says."""
        bases = self.endpoint.base_urls
        plan = Plan(bases, start=self._preferred, max_retries=self.settings.max_retries, rng=self._rng)
        base = plan.first
        while True:
            outcome = self._attempt(base, path, payload, headers)
            if isinstance(outcome, httpx.Response):
                self._preferred = bases.index(base)
                return outcome
            step = plan.after(outcome)
            if isinstance(step, GiveUp):
                raise step.error from outcome.cause
            log.info("retry %s after %.2fs: %s", step.base, step.delay, outcome.error)
            if step.counted:
                self.retries += 1
            if step.delay > 0:
                self._sleep(step.delay)
            base = step.base

    def _attempt(self, base: str, path: str, payload: bytes, headers: httpx.Headers) -> httpx.Response | Failure:
        """One POST: an open 2xx response, or how it failed before the first body byte."""
        url = base + path
        try:
            request = self.client.build_request("POST", url, content=payload, headers=headers)
            response = self.client.send(request, stream=True)
        except Exception as exc:
            return failure_of(exc, base, url, self.settings)
        if response.status_code < 400:
            return response
        at = self._clock()
        try:
            raw: bytes | str = response.read()
        except httpx.DecodingError:
            raw = f"the error body could not be decoded as {_encoding(response)}"
        except httpx.HTTPError as exc:
            raw = f"the error body was cut off ({type(exc).__name__})"
        finally:
            response.close()
        secret = self.endpoint.key.reveal() if self.endpoint.key else None
        failure = error_from_body(response.status_code, raw, response.headers, secret, now=at)
        return Failure.answered(base, shown_url(url), failure, at)

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


def failure_of(exc: Exception, base: str, url: str, settings: TransportSettings) -> Failure:
    """How a request to ``url`` (on base URL ``base``) that raised ``exc`` before any response
    byte failed (shared with the async batch scheduler): unreachable, closed without an answer,
    or final. Errors name the URLs as :func:`~evo_magic.config.shown_url` shows them: never a key."""
    shown, shown_path = shown_url(base), shown_url(url)
    if isinstance(exc, httpx.ConnectTimeout):
        reason = f"no connection within {settings.connect_timeout:g} s"
        return Failure(base, shown_path, "unreachable", _cannot_connect(base, reason), reason, cause=exc)
    if isinstance(exc, httpx.ConnectError):
        reason = _reason(exc)
        return Failure(base, shown_path, "unreachable", _cannot_connect(base, reason), reason, cause=exc)
    if isinstance(exc, httpx.TimeoutException):
        error: TransportError = StreamTimeout(
            f"{shown} sent no answer within {settings.read_timeout:g} s", url=base, retryable=False
        )
        return Failure(base, shown_path, "final", error, "no answer in time", cause=exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        # the server closed before any response byte (e.g. a stale pooled connection)
        log.debug("no response from %s: %s", shown, exc)
        error = TransportError(f"{shown} closed the connection without an answer", url=base, retryable=True)
        return Failure(base, shown_path, "closed", error, "closed the connection without an answer", cause=exc)
    if isinstance(exc, httpx.TransportError):
        error = TransportError(f"request to {shown} failed: {redact(str(exc))}", url=base, retryable=False)
        return Failure(base, shown_path, "final", error, _reason(exc), cause=exc)
    # not a network failure: a setting httpx rejects, a bug. No cause: the original's frames
    # (httpx's locals) could hold the header value
    error = TransportError(
        f"the request to {shown} could not be sent ({type(exc).__name__}: {_reason(exc)})", url=base, retryable=False
    )
    return Failure(base, shown_path, "final", error, "could not be sent")


def _json_or_text(data: str) -> object:
    try:
        value = json.loads(data)
    except ValueError:
        return {"message": data}
    if isinstance(value, dict) and isinstance(value.get("error"), dict):
        return value["error"]
    return value


def _encoding(response: httpx.Response) -> str:
    """The Content-Encoding a body claimed (``gzip``), for an error when it could not be decoded."""
    return response.headers.get("content-encoding", "").strip() or "its Content-Encoding"


def _cannot_connect(base: str, reason: str) -> TransportError:
    return TransportError(f"cannot connect to {shown_url(base)} ({reason})", url=base, retryable=True)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return redact(text.splitlines()[0])[:120]


__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "RETRY_AFTER_CAP_S",
    "ProtocolError",
    "Transport",
    "TransportSettings",
    "backoff_delay",
]
