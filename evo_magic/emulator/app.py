"""The emulator's HTTP application: a Starlette app over one shared State.

Routes (behind :class:`~evo_magic.emulator.admission.Admission`: latency and concurrency
limit) come from ``State.routes``, a table of path -> kind that tests may change while the
emulator runs (``Emulator.open_route`` / ``close_route``):

- ``chat``: the OpenAI Chat Completions protocol, as ``POST /v1/chat/completions`` (EvoLink's
  documented route) and ``/chat/completions`` (DeepSeek accepts both); ``prefix: true`` there
  is the 400 DeepSeek gives off its beta base;
- ``beta_chat``: the same with chat prefix completion, at ``/beta/chat/completions``
  (DeepSeek's beta base ``https://api.deepseek.com/beta``; EvoLink documents no route);
- ``messages``: the Anthropic Messages protocol, ``POST /v1/messages`` (a final assistant
  turn is continued);
- ``fim``: FIM completion, ``POST /beta/completions`` (DeepSeek's beta route).

Any other path answers 404 and another method 405, both with the vendor's JSON error body. A
new protocol is one more module with an ``endpoint(state)`` and one more kind here.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import chat, completions, messages, wire
from .admission import Admission
from .state import Fault, InjectedReset, State

__all__ = ["Fault", "InjectedReset", "State", "create_app"]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(state: State) -> Admission:
    """The ASGI app serving ``state`` (settings, routes, cache, memory, queued faults)."""
    endpoints = {
        "chat": chat.endpoint(state),
        "beta_chat": chat.endpoint(state, beta=True),
        "messages": messages.endpoint(state),
        "fim": completions.endpoint(state),
    }

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        kind = state.routes.get(path)
        anthropic = kind == "messages" or (kind is None and path.endswith("/messages"))
        if kind is None:
            return wire.error(404, f"Unknown path {path}", "not_found_error", anthropic=anthropic)
        if request.method != "POST":
            message = f"Method {request.method} is not allowed for {path}; use POST"
            return wire.error(405, message, anthropic=anthropic, headers={"Allow": "POST"})
        return await endpoints[kind](request)

    return Admission(Starlette(routes=[Route("/{path:path}", dispatch, methods=METHODS)]), state)
