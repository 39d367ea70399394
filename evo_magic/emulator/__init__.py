"""A faithful emulator of the EvoLink API for DeepSeek V4, for demos, tests and CI.

::

    from evo_magic.emulator import Emulator
    with Emulator(tokens_per_second=None) as emu:   # None: unthrottled
        # Emulator(latency=0.2, max_concurrency=64): 0.2 s before each first byte, 429 above 64
        emu.url                                     # "http://127.0.0.1:PORT" (no /v1)
        emu.requests                                # the JSON bodies received, in order
        emu.accepted_connections                    # TCP connections accepted so far
        emu.fail_next("429")                        # inject a failure into the next request
        emu.routes                                  # {path: kind}: what each path serves
        emu.close_route("/beta/completions")        # that path answers 404 from now on
        emu.open_route("/v1/chat/completions", "beta_chat")  # prefix continuation there too

Runs uvicorn (h11, asyncio loop) in a daemon thread, on loopback only; uvicorn installs no
signal handlers outside the main thread. ``python -m evo_magic.emulator`` runs it in the
foreground. The emulator is self-contained: it imports nothing else of evo_magic but the
standalone token counter :mod:`evo_magic.core.tokens` (so it counts usage as DeepSeek does).

Routes (``state.ROUTES``): ``/v1/chat/completions`` and ``/chat/completions`` (chat),
``/v1/messages`` (Anthropic), and DeepSeek's beta base: ``/beta/chat/completions`` (chat with
prefix continuation, ``prefix: true``; the other chat routes answer it with DeepSeek's 400)
and ``/beta/completions`` (FIM). EvoLink documents no route for either beta feature, so the
emulator follows DeepSeek's and lets tests move or remove routes.

Modules: admission (latency, concurrency limit), app (routes), chat / messages / completions
(the protocols and FIM), validate (the docs' rules), answers + sections (what the model says),
continuation (prefix continuation), fill (FIM's middle), encode (wire bodies), tokens (usage
counts, prefix cache), state (memory between requests), wire (errors, auth, pacing).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

from ..core.tokens import INSTALL_HINT, vocabulary
from .app import create_app
from .state import FAULTS, ROUTE_KINDS, ROUTES, Fault, InjectedReset, State

__all__ = ["FAULTS", "ROUTES", "ROUTE_KINDS", "Emulator", "Fault"]

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
THROTTLED_FIRST_TOKEN_DELAY = 0.4  # seconds, when a pace is set and no delay is given


class _QuietReset(logging.Filter):
    """Injected resets, streams cancelled by ``stop()`` and clients gone mid-request (a killed
    kernel) are expected: keep them out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        expected = isinstance(exc, (InjectedReset, asyncio.CancelledError)) or type(exc).__name__ == "ClientDisconnect"
        return not expected


class Emulator:
    """The emulator in a background thread.

    ``tokens_per_second``: None sends as fast as possible; a rate paces the stream on an
    absolute schedule. ``first_token_delay`` (seconds, default 0 unthrottled, 0.4 paced) is
    spent "queued", with a ``: keep-alive`` comment every second. ``api_keys`` restricts the
    accepted keys (default: any non-empty key but "invalid").

    ``latency`` (seconds) passes before the first byte of every response, as a server's own
    processing time; ``max_concurrency`` refuses a request arriving while that many are in
    flight with 429 and ``Retry-After: retry_after`` (1 s by default; ``state.in_flight``, ``state.peak_in_flight`` and
    ``state.rejected`` count them). ``exact_tokens``: usage counted with DeepSeek's tokenizer
    (True; None: when installed) or the approximation (False).

    ``accepted_connections`` counts the TCP connections the server accepted: uvicorn is given
    a subclass of its h11 protocol whose ``connection_made`` (called once per accepted
    connection) increments it, so tests can prove that a client reused one connection.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        api_keys: set[str] | None = None,
        first_token_delay: float | None = None,
        *,
        latency: float = 0.0,
        max_concurrency: int | None = None,
        retry_after: float = 1.0,
        exact_tokens: bool | None = None,
    ):
        if host not in LOOPBACK:
            raise ValueError(f"the emulator serves loopback only (127.0.0.1, localhost, ::1), not {host!r}")
        self.host = host
        self.port = port
        if not latency >= 0:
            raise ValueError(f"latency must be 0 or more seconds, not {latency!r}")
        if exact_tokens and vocabulary() is None:
            raise ValueError(f"exact_tokens=True: {INSTALL_HINT}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1 (or None for no limit), not {max_concurrency!r}")
        if not retry_after >= 0:
            raise ValueError(f"retry_after must be 0 or more seconds, not {retry_after!r}")
        self.state = State(
            api_keys=api_keys, latency=latency, max_concurrency=max_concurrency, exact_tokens=exact_tokens,
            limit_retry_after=retry_after,
        )
        self.pace(tokens_per_second, first_token_delay)
        self.accepted_connections = 0
        self._sock: socket.socket | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def pace(self, tokens_per_second: float | None, first_token_delay: float | None = None) -> None:
        """Stream at ``tokens_per_second`` (None: unthrottled) from the next request on; the
        first token waits ``first_token_delay`` s (default: a realistic delay when paced)."""
        if tokens_per_second is not None and not tokens_per_second > 0:
            raise ValueError("tokens_per_second must be positive (or None for unthrottled)")
        if first_token_delay is None:
            first_token_delay = THROTTLED_FIRST_TOKEN_DELAY if tokens_per_second else 0.0
        self.state.tokens_per_second = tokens_per_second
        self.state.first_token_delay = first_token_delay

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash, no /v1); the port is known once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[Any]:
        """The JSON bodies received, in order."""
        return self.state.requests

    def fail_next(self, kind: str, **params: Any) -> None:
        """Inject a failure into the next request: one of FAULTS (see Fault for params)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        self.state.faults.append(Fault(kind, **params))

    @property
    def routes(self) -> dict[str, str]:
        """What each path serves (a kind of ROUTE_KINDS); any other path answers 404."""
        return self.state.routes

    def open_route(self, path: str, kind: str) -> None:
        """Serve ``kind`` ("chat", "beta_chat" with prefix continuation, "messages", "fim") at
        ``path`` from the next request on."""
        if kind not in ROUTE_KINDS:
            raise ValueError(f"unknown route kind {kind!r}; one of {', '.join(ROUTE_KINDS)}")
        if not path.startswith("/"):
            raise ValueError(f"a route path must start with /, not {path!r}")
        self.state.routes[path] = kind

    def close_route(self, path: str) -> None:
        """Answer 404 at ``path`` from the next request on (as a gateway without it would)."""
        self.state.routes.pop(path, None)

    def start(self) -> Emulator:
        """Bind, serve in a daemon thread, and return once connections are accepted."""
        if self._thread is not None:
            return self
        import uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        emulator = self

        class CountingProtocol(H11Protocol):
            def connection_made(self, transport: Any) -> None:
                emulator.accepted_connections += 1
                sock = transport.get_extra_info("socket")
                if sock is not None:  # asyncio skips it on sockets made with proto 0, as ours is:
                    # without it the body waits for the client's delayed ACK, ~40 ms a response
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().connection_made(transport)

        for name in ("uvicorn.error", "uvicorn"):
            logging.getLogger(name).addFilter(_QuietReset())
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            http=CountingProtocol,
            loop="asyncio",
            lifespan="off",
            timeout_keep_alive=300,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="evo-magic-emulator", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self.state.billing.warm_up, name="evo-magic-tokenizer", daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        log.debug("emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Shut down and join the thread: responses under way get 1 s to finish, then they
        are cancelled."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(1.0)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(10)
            if self._thread.is_alive():
                log.warning("the emulator thread did not stop within 11 s")
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
