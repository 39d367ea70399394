"""``POST /v1/messages``: the Anthropic Messages protocol as EvoLink serves DeepSeek V4.

Top-level ``system``, required ``max_tokens``, thinking as a content block with a signature,
tool_use / tool_result blocks; an unknown model is served by deepseek-v4-flash. Usage counts
cache reads like the OpenAI side (64-token prefix units).

A final assistant turn (a prefill) is continued, on this route (there is no beta route or
``prefix`` field on this protocol): its text blocks start the answer, its thinking blocks the
thinking; only the continuation comes back, in a thinking block only while the thinking goes
on (:mod:`~evo_magic.emulator.continuation`). A final turn with tool_use blocks is a 400.
A stop sequence ends the answer with ``stop_reason: "stop_sequence"`` and the sequence.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.tokens import HIDDEN_THINKING_TOKENS
from . import encode, validate, wire
from .answers import plan
from .chat import answer_message, completion_of, joined, prefixed, text_of
from .continuation import anthropic_prefix, continued
from .state import State
from .tokens import tokenize


def conversation(body: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """(role, text) pairs (system first, tool results as role "tool") and prompt tokens."""
    pairs: list[tuple[str, str]] = []
    if body.get("system"):
        pairs.append(("system", text_of(body["system"])))
    for m in body["messages"]:
        content = m["content"]
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for b in blocks:
            kind = b.get("type") if isinstance(b, Mapping) else None
            if kind == "tool_result":
                pairs.append(("tool", text_of(b.get("content"))))
            elif kind == "text":
                pairs.append((m["role"], str(b.get("text", ""))))
            elif kind == "tool_use":
                pairs.append(("assistant", json.dumps({"name": b.get("name"), "input": b.get("input")})))
    tokens = [t for role, text in pairs for t in (f"<|{role}|>", *tokenize(text))]
    return pairs, tokens


def _tool_choice(choice: Any) -> Any:
    """Anthropic's tool_choice in the OpenAI terms answers.plan understands."""
    if not isinstance(choice, Mapping):
        return None
    kind = choice.get("type")
    if kind == "tool":
        return {"function": {"name": choice.get("name")}}
    return {"any": "required", "none": "none"}.get(str(kind))


async def _handle(state: State, request: Request) -> Response:
    got = await wire.read_valid(request, state, validate.check_messages_api, anthropic=True)
    if isinstance(got, Response):
        return got
    key, body = got
    model = body.get("model") if body.get("model") in validate.MODELS else "deepseek-v4-flash"
    thinking = validate.thinking_on({**body, "model": model})
    prefix = anthropic_prefix(body["messages"])
    history = {**body, "messages": body["messages"][:-1]} if prefix is not None else body
    pairs, prompt = conversation(history)
    hidden = HIDDEN_THINKING_TOKENS if thinking else 0
    billed, cacheable = state.billing.prompt(history, prompt, hidden)
    full_prompt = billed if prefix is None else prefixed(state, billed, prefix, thinking)
    fault, early = wire.before_body(state, len(full_prompt), body["max_tokens"], anthropic=True)
    if early is not None:
        return early

    tools = [
        {"function": {"name": t.get("name"), "description": t.get("description"), "parameters": t.get("input_schema")}}
        for t in body.get("tools") or ()
    ]
    p = plan(
        pairs, thinking=thinking, tools=tools, call_prefix="toolu", tool_choice=_tool_choice(body.get("tool_choice"))
    )
    if prefix is not None:
        p = continued(p, prefix, thinking=thinking)
        p.reasoning = p.reasoning or None  # the thinking is over: no new thinking block
    r = encode.cut(p, body["max_tokens"], list(body.get("stop_sequences") or ()))
    if fault is not None and fault.finish:
        r.finish_reason = fault.finish
    hit = state.cache.hit(key, full_prompt)
    whole = joined(r, prefix)
    answered = state.billing.history(billed, answer_message(whole), [*prompt, "<|assistant|>", *whole.content])
    state.cache.remember(key, cacheable, answered)
    usage = {
        "input_tokens": len(full_prompt) - hit,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": hit,
        "output_tokens": completion_of(state.billing, r, body["max_tokens"])[0],
    }
    rid = wire.new_id()
    if not body.get("stream"):
        return wire.json_response(encode.anthropic_body(rid, model, r, usage), rid, state, r.completion_tokens, fault)
    events = wire.said(encode.anthropic_events(rid, model, r, usage), fault, ("thinking", "text"))
    frames: Iterator[bytes] = (encode.sse(e, e["type"]) for e in events)
    if fault is not None and fault.kind == "error_event":
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        frames = wire.cut_with(frames, fault.after, encode.sse(error, "error"))
    return wire.stream_response(wire.paced(frames, state, fault), rid, fault)


def endpoint(state: State) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of this protocol, bound to ``state``."""

    async def messages(request: Request) -> Response:
        return await _handle(state, request)

    return messages
