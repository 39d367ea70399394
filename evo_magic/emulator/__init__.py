"""A faithful emulator of the EvoLink API for DeepSeek V4, for demos, tests and CI.

::

    from evo_magic.emulator import Emulator
    with Emulator(tokens_per_second=None) as emu:   # None: unthrottled
        emu.url                                     # "http://127.0.0.1:PORT"
        emu.fail_next("429")                        # inject a failure into the next request

Runs uvicorn in a daemon thread on loopback only. ``python -m evo_magic.emulator`` runs it
in the foreground.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from .app import Fault, InjectedReset, State, create_app

__all__ = ["Emulator", "Fault"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
FAULTS = (
    "429",
    "500",
    "502",
    "503",
    "401",
    "402",
    "context_length",
    "reset",
    "stall",
    "malformed",
    "error_event",
    "finish",
)


class _QuietReset(logging.Filter):
    """Injected resets are intended; keep them out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


class Emulator:
    """The emulator in a background thread. ``requests`` holds every JSON body received."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        api_keys: set[str] | None = None,
        first_token_delay: float | None = None,
    ):
        if host not in LOOPBACK:
            raise ValueError(f"the emulator serves loopback only, not {host!r}")
        self.host = host
        self.state = State(
            tokens_per_second=tokens_per_second,
            api_keys=api_keys,
            first_token_delay=(0.4 if tokens_per_second else 0.0)
            if first_token_delay is None
            else first_token_delay,
        )
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.accepted_connections = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests

    def fail_next(self, kind: str, **params: Any) -> None:
        """Inject a failure into the next request: one of FAULTS (see Fault for params)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        self.state.faults.append(Fault(kind, **params))

    def start(self) -> Emulator:
        import uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        emulator = self

        class CountingProtocol(H11Protocol):
            def connection_made(self, transport: Any) -> None:
                emulator.accepted_connections += 1
                super().connection_made(transport)

        for name in ("uvicorn.error", "uvicorn"):
            logging.getLogger(name).addFilter(_QuietReset())
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            http=CountingProtocol,
            lifespan="off",
            timeout_keep_alive=300,
        )
        self._server = uvicorn.Server(config)
        self._sock.listen(128)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="evo-magic-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(10)
            self._server = None
        self._sock.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
