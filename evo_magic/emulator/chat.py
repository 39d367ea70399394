"""``POST /v1/chat/completions``: the OpenAI Chat Completions protocol as DeepSeek V4 serves it.

Flow: auth and body (wire.read) → validation (validate.check_chat) → on the beta route, a
prefix message (continuation; elsewhere DeepSeek's 400) → the reasoning echo rule on the
history → canonical prompt tokens → context length → an injected fault, if any → one Plan
per choice (answers.plan, continued after a prefix) cut to max_tokens / stop (encode.cut) →
usage with prefix-cache hits → a JSON body or an SSE stream (encode.openai_*), paced by wire.

After a prefix continuation, what the emulator remembers (echo rule, cache) is the whole
answer a client keeps: the prefix joined with the continuation. The prompt is billed as the
history's, open for the assistant, then the prefix's reasoning (thinking on) and text
(DeepSeek's billing of a prefix is not recorded).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.tokens import HIDDEN_THINKING_TOKENS
from . import encode, validate, wire
from .answers import plan
from .continuation import Prefix, continued, openai_prefix
from .state import State, answer_hash
from .tokens import Billing, tokenize


def text_of(content: Any) -> str:
    """A message's content as text (a string, or the text parts of a list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content)
    return ""


def assistant_text(content: str, functions: Sequence[Mapping[str, Any]]) -> str:
    """How an assistant turn is serialized into prompts: its text, then each tool call as
    JSON. Used both for history messages and for the answers the emulator gives, so a
    history that echoes an answer verbatim extends that answer's cached token sequence."""
    calls = "".join(
        json.dumps({"name": f.get("name"), "arguments": f.get("arguments")}, sort_keys=True) for f in functions
    )
    return content + calls


def _functions(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c["function"] for c in message.get("tool_calls") or ()]


def conversation(messages: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], list[str]]:
    """(role, text) pairs for the answer generator and the canonical prompt tokens: per
    message a ``<|role|>`` marker and the tokens of its text."""
    pairs: list[tuple[str, str]] = []
    tokens: list[str] = []
    for m in messages:
        role, text = m["role"], text_of(m.get("content"))
        if role == "assistant":
            text = assistant_text(text, _functions(m))
        pairs.append((role, text))
        tokens.append(f"<|{role}|>")
        tokens += tokenize(text)
    return pairs, tokens


def echo_rule_broken(messages: Sequence[Mapping[str, Any]], key: str, state: State, thinking: bool) -> bool:
    """True when an assistant message of the history is an answer the emulator gave with
    reasoning but comes back without that exact reasoning_content, or (thinking on) carries
    tool calls without a reasoning_content key."""
    for m in messages:
        if m["role"] != "assistant":
            continue
        expected = state.reasoning.expected(key, answer_hash(text_of(m.get("content")), _functions(m)))
        if expected is not None and m.get("reasoning_content") != expected:
            return True
        if thinking and m.get("tool_calls") and "reasoning_content" not in m:
            return True
    return False


def answer_message(r: encode.Rendered) -> dict[str, Any]:
    """The assistant message a client echoes for the answer ``r`` (what a follow-up starts with)."""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(r.content)}
    if r.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in r.tool_calls
        ]
        message["reasoning_content"] = "".join(r.reasoning or ())
    return message


def completion_of(billing: Billing, r: encode.Rendered, max_tokens: int | None) -> tuple[int, int]:
    """(completion tokens, reasoning tokens) of one choice as billed."""
    approximate = (r.completion_tokens, len(r.reasoning or ()))
    reasoning = None if r.reasoning is None else "".join(r.reasoning)
    cut = r.finish_reason == "length"
    return billing.completion(reasoning, "".join(r.content), r.tool_calls, approximate, max_tokens, cut)


def usage_of(prompt: int, hit: int, completions: Sequence[tuple[int, int]], thinking: bool) -> dict[str, Any]:
    """The usage object, keys in DeepSeek's order; ``completions`` per choice (all, reasoning)."""
    completion = sum(c for c, _ in completions)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": hit},
    }
    if thinking:
        usage["completion_tokens_details"] = {"reasoning_tokens": sum(t for _, t in completions)}
    usage["prompt_cache_hit_tokens"] = hit
    usage["prompt_cache_miss_tokens"] = prompt - hit
    return usage


def _remember(
    state: State,
    key: str,
    billed: list[Any],
    prompt: list[str],
    cacheable: list[Any],
    choices: Sequence[encode.Rendered],
) -> None:
    """The answers' reasoning (echo rule) and the prompt / prompt+answer sequences (cache)."""
    sequences = [cacheable]
    for r in choices:
        content = "".join(r.content)
        if r.reasoning is not None:
            state.reasoning.remember(key, answer_hash(content, r.tool_calls), "".join(r.reasoning))
        approximate = [*prompt, "<|assistant|>", *tokenize(assistant_text(content, r.tool_calls))]
        sequences.append(state.billing.history(billed, answer_message(r), approximate))
    state.cache.remember(key, *sequences)


def prefixed(state: State, billed: list[Any], prefix: Prefix, thinking: bool) -> list[Any]:
    """The billed prompt of a prefix continuation (the prefix's reasoning counts only when
    the request thinks: otherwise the model does not read it)."""
    return state.billing.prefixed(billed, prefix.reasoning if thinking else None, prefix.content)


def joined(r: encode.Rendered, prefix: Prefix | None) -> encode.Rendered:
    """The whole answer a client keeps after a prefix continuation: the prefix, then ``r``."""
    if prefix is None:
        return r
    reasoning = None if r.reasoning is None else [prefix.reasoning or "", *r.reasoning]
    return replace(r, content=[prefix.content, *r.content], reasoning=reasoning)


async def _handle(state: State, request: Request, beta: bool) -> Response:
    got = await wire.read_valid(request, state, validate.check_chat, anthropic=False)
    if isinstance(got, Response):
        return got
    key, body = got
    prefix = openai_prefix(body["messages"])
    if prefix is not None and not beta:
        return wire.error(400, validate.BETA_ONLY)
    history = body["messages"][:-1] if prefix is not None else body["messages"]
    thinking = validate.thinking_on(body)
    if echo_rule_broken(history, key, state, thinking):
        return wire.error(400, validate.ECHO_RULE)
    hidden = HIDDEN_THINKING_TOKENS if thinking else 0
    pairs, prompt = conversation(history)
    billed, cacheable = state.billing.prompt({**body, "messages": history}, prompt, hidden)
    full_prompt = billed if prefix is None else prefixed(state, billed, prefix, thinking)
    max_tokens = body.get("max_tokens")
    fault, early = wire.before_body(state, len(full_prompt), max_tokens, anthropic=False)
    if early is not None:
        return early

    stop = body.get("stop") or []
    stops = [stop] if isinstance(stop, str) else list(stop)
    json_mode = (body.get("response_format") or {}).get("type") == "json_object"
    choices = []
    for i in range(body.get("n") or 1):
        p = plan(
            pairs,
            thinking=thinking,
            tools=body.get("tools") or (),
            json_mode=json_mode,
            choice=i,
            tool_choice=body.get("tool_choice"),
        )
        r = encode.cut(p if prefix is None else continued(p, prefix, thinking=thinking), max_tokens, stops)
        r.logprobs, r.top_logprobs = bool(body.get("logprobs")), body.get("top_logprobs") or 0
        if fault is not None and fault.finish:
            r.finish_reason = fault.finish
        choices.append(r)
    hit = state.cache.hit(key, full_prompt)
    usage = usage_of(len(full_prompt), hit, [completion_of(state.billing, r, max_tokens) for r in choices], thinking)
    _remember(state, key, billed, prompt, cacheable, [joined(r, prefix) for r in choices])

    model = validate.MODELS[body["model"]]
    rid = wire.new_id()
    if not body.get("stream"):
        return wire.json_response(
            encode.openai_body(rid, model, choices, usage), rid, state, usage["completion_tokens"], fault
        )
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    chunks = encode.openai_chunks(rid, model, choices, usage, include)
    chunks = wire.said(chunks, fault, ("reasoning_content", "content"))
    return wire.openai_stream((encode.sse(c) for c in chunks), rid, state, fault)


def endpoint(state: State, *, beta: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of this protocol, bound to ``state``; ``beta``: DeepSeek's beta
    base, where chat prefix completion is on."""

    async def chat_completions(request: Request) -> Response:
        return await _handle(state, request, beta)

    return chat_completions
