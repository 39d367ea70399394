"""The emulator's HTTP application: a Starlette app over one shared State.

Routes (behind :class:`~evo_magic.emulator.admission.Admission`: latency and concurrency
limit): ``POST /v1/chat/completions`` (also ``/chat/completions``, as DeepSeek accepts) and
``POST /v1/messages``. Any other path answers 404 and another method 405, both with the
vendor's JSON error body. A new protocol is one more module with an ``endpoint(state)``
and one more Route here.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import chat, messages, wire
from .admission import Admission
from .state import Fault, InjectedReset, State

__all__ = ["Fault", "InjectedReset", "State", "create_app"]


async def _not_found(request: Request, exc: Exception) -> Response:
    anthropic = request.url.path.endswith("/messages")
    return wire.error(404, f"Unknown path {request.url.path}", "not_found_error", anthropic=anthropic)


async def _wrong_method(request: Request, exc: Exception) -> Response:
    allow = exc.headers.get("Allow", "POST") if isinstance(exc, HTTPException) and exc.headers else "POST"
    return wire.error(
        405,
        f"Method {request.method} is not allowed for {request.url.path}; use {allow}",
        anthropic=request.url.path.endswith("/messages"),
        headers={"Allow": allow},
    )


def create_app(state: State) -> Admission:
    """The ASGI app serving ``state`` (settings, cache, memory, queued faults)."""
    completions = chat.endpoint(state)
    routes = Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/chat/completions", completions, methods=["POST"]),
            Route("/v1/messages", messages.endpoint(state), methods=["POST"]),
        ],
        exception_handlers={404: _not_found, 405: _wrong_method},
    )
    return Admission(routes, state)
