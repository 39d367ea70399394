"""Wire encoders of the emulator: a Plan is cut to the request's limits (``cut`` gives a
Rendered: tokens and a finish reason), which becomes OpenAI chunks / bodies or Anthropic
events, framed as SSE by ``sse``. Chunks follow the recorded DeepSeek streams key by key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .answers import Plan
from .tokens import tokenize

FINGERPRINT = "fp_evolink_v4_20260402"


@dataclass
class Rendered:
    """A plan cut to the request's limits, as tokens, with its finish reason."""

    reasoning: list[str] | None
    content: list[str]
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    logprobs: bool = False
    top_logprobs: int = 0
    stop_sequence: str | None = None  # the stop sequence that ended the answer, if one did

    @property
    def completion_tokens(self) -> int:
        return len(self.reasoning or []) + len(self.content) + _call_tokens(self.tool_calls)


def _call_tokens(calls: list[dict[str, Any]]) -> int:
    return sum(len(tokenize(c["arguments"])) + 3 for c in calls)


def cut(plan: Plan, max_tokens: int | None, stop: list[str]) -> Rendered:
    """``plan`` within the request's limits: the answer ends before the first stop sequence
    (finish "stop"); reasoning, answer and tool calls together stay within ``max_tokens``
    (finish "length"; the answer is empty when reasoning used everything)."""
    content = plan.content
    reason = plan.finish_reason
    matched = None
    for seq in stop:
        at = content.find(seq) if seq else -1
        if at >= 0:
            content, reason, matched = content[:at], "stop", seq
    reasoning = tokenize(plan.reasoning) if plan.reasoning is not None else None
    tokens = tokenize(content)
    calls = plan.tool_calls if reason == "tool_calls" else []
    if max_tokens is not None:
        if reasoning is not None and len(reasoning) >= max_tokens:
            return Rendered(reasoning[:max_tokens], [], [], "length")
        room = max_tokens - len(reasoning or [])
        if len(tokens) > room:
            return Rendered(reasoning, tokens[:room], [], "length")
        if len(tokens) + _call_tokens(calls) > room:
            return Rendered(reasoning, tokens, [], "length")
    return Rendered(reasoning, tokens, calls, reason, stop_sequence=matched)


def _logprob(token: str, top: int) -> dict[str, Any]:
    lp = -round((sum(map(ord, token)) % 97) / 50, 4)
    entry: dict[str, Any] = {"token": token, "logprob": lp, "bytes": list(token.encode())}
    entry["top_logprobs"] = [
        {"token": token if i == 0 else f"{token.strip()}_{i}", "logprob": lp - i * 0.7, "bytes": None}
        for i in range(top)
    ]
    return entry


# --- OpenAI Chat Completions ----------------------------------------------------------------


def openai_chunks(
    rid: str, model: str, choices: list[Rendered], usage: dict[str, Any], include_usage: bool
) -> Iterator[dict[str, Any]]:
    created = int(time.time())
    base: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(
        index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None, last: bool = False
    ) -> dict[str, Any]:
        out = {
            **base,
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        }
        if last:
            out["usage"] = usage
        elif include_usage:
            out["usage"] = None
        return out

    for i, r in enumerate(choices):
        thinking = r.reasoning is not None
        first = (
            {"role": "assistant", "content": None, "reasoning_content": ""}
            if thinking
            else {"role": "assistant", "content": ""}
        )
        yield chunk(i, first)
        for tok in r.reasoning or []:
            yield chunk(i, {"content": None, "reasoning_content": tok})
        for tok in r.content:
            delta = {"content": tok, "reasoning_content": None} if thinking else {"content": tok}
            lp = {"content": [_logprob(tok, r.top_logprobs)]} if r.logprobs else None
            yield chunk(i, delta, logprobs=lp)
        for k, call in enumerate(r.tool_calls):
            yield chunk(
                i,
                {
                    "tool_calls": [
                        {
                            "index": k,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                },
            )
            for fragment in tokenize(call["arguments"]):
                yield chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": fragment}}]})
        last = {"content": "", "reasoning_content": None} if thinking else {"content": ""}
        yield chunk(i, last, finish=r.finish_reason, last=i == len(choices) - 1)


def openai_body(rid: str, model: str, choices: list[Rendered], usage: dict[str, Any]) -> dict[str, Any]:
    out = []
    for i, r in enumerate(choices):
        message: dict[str, Any] = {"role": "assistant", "content": "".join(r.content)}
        if r.reasoning is not None:
            message["reasoning_content"] = "".join(r.reasoning)
        if r.tool_calls:
            message["tool_calls"] = [
                {
                    "index": k,
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for k, c in enumerate(r.tool_calls)
            ]
        lp = {"content": [_logprob(t, r.top_logprobs) for t in r.content]} if r.logprobs else None
        out.append({"index": i, "message": message, "logprobs": lp, "finish_reason": r.finish_reason})
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": out,
        "usage": usage,
        "system_fingerprint": FINGERPRINT,
    }


# --- Anthropic Messages ---------------------------------------------------------------------

ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _anthropic_stop(r: Rendered) -> dict[str, Any]:
    """``stop_reason`` and ``stop_sequence``: "stop_sequence" and the sequence when one matched."""
    if r.stop_sequence is not None and r.finish_reason == "stop":
        return {"stop_reason": "stop_sequence", "stop_sequence": r.stop_sequence}
    return {"stop_reason": ANTHROPIC_STOP.get(r.finish_reason, r.finish_reason), "stop_sequence": None}


def anthropic_events(rid: str, model: str, r: Rendered, usage: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Messages stream of an answer: message_start, a ping, one block per part (thinking
    sealed by its signature, text, each tool call), message_delta with the stop and usage."""
    start_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
    message: dict[str, Any] = {"id": rid, "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {**start_usage, "output_tokens": 1}}  # fmt: skip
    yield {"type": "message_start", "message": message}
    yield {"type": "ping"}
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if r.reasoning is not None:
        deltas = [{"type": "thinking_delta", "thinking": tok} for tok in r.reasoning]
        blocks.append(({"type": "thinking", "thinking": ""}, [*deltas, {"type": "signature_delta", "signature": rid}]))
    if r.content:
        blocks.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": tok} for tok in r.content]))
    for call in r.tool_calls:
        args = call["arguments"]
        deltas = [{"type": "input_json_delta", "partial_json": args[j : j + 4]} for j in range(0, len(args), 4)]
        blocks.append(({"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}, deltas))
    for index, (block, deltas) in enumerate(blocks):
        yield {"type": "content_block_start", "index": index, "content_block": block}
        for delta in deltas:
            yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
    yield {"type": "message_delta", "delta": _anthropic_stop(r), "usage": {"output_tokens": usage["output_tokens"]}}
    yield {"type": "message_stop"}


def anthropic_body(rid: str, model: str, r: Rendered, usage: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if r.reasoning is not None:
        content.append({"type": "thinking", "thinking": "".join(r.reasoning), "signature": rid})
    if r.content:
        content.append({"type": "text", "text": "".join(r.content)})
    for call in r.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": call["name"],
                "input": json.loads(call["arguments"]),
            }
        )
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        **_anthropic_stop(r),
        "usage": {**usage, "service_tier": "standard"},
    }


# --- FIM completion (text_completion) -------------------------------------------------------


def completion_logprobs(tokens: list[str], top: int, offset: int) -> dict[str, Any]:
    """Completion-style logprobs of ``tokens`` (the first at character ``offset``), ``top``
    alternatives each: ``text_offset``, ``token_logprobs``, ``tokens``, ``top_logprobs`` maps."""
    entries = [_logprob(t, top) for t in tokens]
    offsets = [offset + sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {
        "text_offset": offsets,
        "token_logprobs": [e["logprob"] for e in entries],
        "tokens": list(tokens),
        "top_logprobs": [{a["token"]: a["logprob"] for a in e["top_logprobs"]} for e in entries],
    }


def fim_chunks(
    rid: str,
    model: str,
    r: Rendered,
    usage: dict[str, Any],
    include_usage: bool,
    echo: str,
    top: int | None,
    offset: int,
) -> Iterator[dict[str, Any]]:
    """A FIM stream as DeepSeek streams chat: one text token per chunk (after the echoed
    prompt, if asked), then an empty text with the finish reason and the usage."""
    base = {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model}
    base["system_fingerprint"] = FINGERPRINT
    at = offset  # logprobs come without echo (the docs refuse both), so offsets count the answer
    for tok in [*tokenize(echo), *r.content]:
        logprobs = completion_logprobs([tok], top, at) if top is not None else None
        at += len(tok)
        chunk = {**base, "choices": [{"text": tok, "index": 0, "logprobs": logprobs, "finish_reason": None}]}
        yield {**chunk, "usage": None} if include_usage else chunk
    last = {"text": "", "index": 0, "logprobs": None, "finish_reason": r.finish_reason}
    yield {**base, "choices": [last], "usage": usage}


def fim_body(
    rid: str, model: str, r: Rendered, usage: dict[str, Any], echo: str, top: int | None, offset: int
) -> dict[str, Any]:
    logprobs = completion_logprobs(r.content, top, offset) if top is not None else None
    choice = {"text": echo + "".join(r.content), "index": 0, "logprobs": logprobs, "finish_reason": r.finish_reason}
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
        "system_fingerprint": FINGERPRINT,
    }


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return (head + "data: " + text + "\n\n").encode()
    except UnicodeEncodeError:  # half a surrogate pair ("say" fault): written as a \u escape
        return (head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()
