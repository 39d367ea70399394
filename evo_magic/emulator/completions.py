"""``POST /beta/completions``: FIM (fill in the middle) completion, as DeepSeek documents it.

Flow: auth and body (wire.read) → validation (validate.check_fim: prompt, max_tokens up to
4K, no thinking) → the billed prompt (prompt and suffix between the FIM markers) → context
length → an injected fault, if any → the middle (fill.fill) cut to max_tokens / stop
(encode.cut) → usage with prefix-cache hits, counted like chat → a ``text_completion`` body
or an SSE stream (encode.fim_*), paced by wire. ``echo`` puts the prompt before the text;
``logprobs`` (an integer) gives completion-style logprobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from . import encode, validate, wire
from .answers import Plan
from .chat import completion_of, usage_of
from .fill import fill
from .state import State


async def _handle(state: State, request: Request) -> Response:
    got = await wire.read_valid(request, state, validate.check_fim, anthropic=False)
    if isinstance(got, Response):
        return got
    key, body = got
    prompt, suffix, max_tokens = body["prompt"], body.get("suffix") or "", body.get("max_tokens")
    billed = state.billing.fim_prompt(prompt, suffix)
    fault, early = wire.before_body(state, len(billed), max_tokens, anthropic=False)
    if early is not None:
        return early

    stop = body.get("stop") or []
    r = encode.cut(Plan(fill(prompt, suffix)), max_tokens, [stop] if isinstance(stop, str) else list(stop))
    if fault is not None and fault.finish:
        r.finish_reason = fault.finish
    hit = state.cache.hit(key, billed)
    state.cache.remember(key, billed)
    usage = usage_of(len(billed), hit, [completion_of(state.billing, r, max_tokens)], thinking=False)
    model, rid = validate.MODELS[body["model"]], wire.new_id()
    echo, top = (prompt if body.get("echo") else ""), body.get("logprobs")
    if not body.get("stream"):
        payload = encode.fim_body(rid, model, r, usage, echo, top, len(prompt))
        return wire.json_response(payload, rid, state, usage["completion_tokens"], fault)
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    chunks = encode.fim_chunks(rid, model, r, usage, include, echo, top, len(prompt))
    return wire.openai_stream((encode.sse(c) for c in chunks), rid, state, fault)


def endpoint(state: State) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of FIM completion, bound to ``state``."""

    async def completions(request: Request) -> Response:
        return await _handle(state, request)

    return completions
