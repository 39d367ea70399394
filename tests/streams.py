"""Wire streams built from a turn's parts, for both protocols (test helper).

``Turn`` holds what the model says, each field already cut into the fragments a gateway sends
(a fragment may end or start with half of a surrogate pair). ``openai_payloads`` and
``anthropic_payloads`` turn it into the ``data`` payloads of a stream, ``sse`` frames them as
bytes, and ``serve`` answers a session's requests with them over an ``httpx.MockTransport``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T", str, bytes)
ID, MODEL = "resp-1", "deepseek-v4-flash"


def units(text: str) -> str:
    """``text`` as UTF-16 code units: every astral character becomes its surrogate pair."""
    out = []
    for ch in text:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out += [chr(0xD800 + (code >> 10)), chr(0xDC00 + (code & 0x3FF))]
        else:
            out.append(ch)
    return "".join(out)


def cut(whole: T, at: Iterable[int]) -> list[T]:
    """``whole`` (code units, or bytes) cut at the given offsets; empty pieces dropped."""
    points = sorted({0, len(whole), *(min(max(p, 0), len(whole)) for p in at)})
    return [whole[a:b] for a, b in itertools.pairwise(points) if b > a]


@dataclass
class Turn:
    text: Sequence[str] = ()
    reasoning: Sequence[str] | None = None
    calls: Sequence[tuple[str, str, Sequence[str]]] = ()  # (id, name, argument fragments)
    prompt_tokens: int = 11
    completion_tokens: int = 7
    noise: Sequence[int] = field(default_factory=tuple)  # payload positions of harmless extra events

    @property
    def finish(self) -> str:
        return "tool_calls" if self.calls else "stop"


def openai_payloads(turn: Turn) -> list[dict[str, Any]]:
    base = {"id": ID, "object": "chat.completion.chunk", "model": MODEL}

    def chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, **extra}]}

    out = [chunk({"role": "assistant", "content": None, "reasoning_content": "" if turn.reasoning is not None else None})]
    out += [chunk({"content": None, "reasoning_content": piece}) for piece in turn.reasoning or ()]
    out += [chunk({"content": piece}) for piece in turn.text]
    for i, (cid, name, pieces) in enumerate(turn.calls):
        head = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
        out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in pieces]
    usage = {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens}
    out.append({**chunk({"content": ""}, finish_reason=turn.finish), "usage": usage})
    for at in turn.noise:  # a usage-less keep-alive chunk with no choices
        out.insert(min(at, len(out)), {**base, "choices": [], "usage": None})
    return out


def anthropic_payloads(turn: Turn) -> list[dict[str, Any]]:
    usage = {"input_tokens": turn.prompt_tokens, "output_tokens": 1}
    out: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": ID, "type": "message", "role": "assistant", "model": MODEL,
                                              "content": [], "usage": usage}}
    ]
    index = 0

    def block(start: dict[str, Any], kind: str, key: str, pieces: Sequence[str]) -> None:
        nonlocal index
        out.append({"type": "content_block_start", "index": index, "content_block": start})
        out.extend({"type": "content_block_delta", "index": index, "delta": {"type": kind, key: p}} for p in pieces)
        out.append({"type": "content_block_stop", "index": index})
        index += 1

    if turn.reasoning is not None:
        block({"type": "thinking", "thinking": "", "signature": ""}, "thinking_delta", "thinking", turn.reasoning)
        out.insert(-1, {"type": "content_block_delta", "index": index - 1,
                        "delta": {"type": "signature_delta", "signature": ID}})
    if turn.text:
        block({"type": "text", "text": ""}, "text_delta", "text", turn.text)
    for cid, name, pieces in turn.calls:
        block({"type": "tool_use", "id": cid, "name": name, "input": {}}, "input_json_delta", "partial_json", pieces)
    stop = "tool_use" if turn.calls else "end_turn"
    out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": turn.completion_tokens}})
    out.append({"type": "message_stop"})
    for at in turn.noise:  # pings, as the gateway sends them, some with a null error
        out.insert(min(at, len(out) - 1), {"type": "ping", "error": None} if at % 2 else {"type": "ping"})
    return out


def payloads(protocol: str, turn: Turn) -> list[dict[str, Any]]:
    return openai_payloads(turn) if protocol == "openai" else anthropic_payloads(turn)


def dumps(payload: dict[str, Any], ascii_only: bool = True) -> bytes:
    """The JSON of a payload as UTF-8; a lone surrogate is always written as a ``\\u`` escape
    (raw, it is no UTF-8)."""
    text = json.dumps(payload, ensure_ascii=ascii_only)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload).encode("ascii")


def sse(protocol: str, items: Sequence[dict[str, Any]], *, eol: str = "\n", ascii_only: Sequence[bool] = ()) -> bytes:
    """The stream's bytes: ``event:`` lines on the Anthropic protocol, ``[DONE]`` on OpenAI's."""
    nl = eol.encode()
    out = [b": keep-alive" + nl + nl]
    for i, item in enumerate(items):
        head = b"event: " + str(item.get("type")).encode() + nl if protocol == "anthropic" else b""
        flag = ascii_only[i % len(ascii_only)] if ascii_only else True
        out.append(head + b"data: " + dumps(item, flag) + nl + nl)
    if protocol == "openai":
        out.append(b"data: [DONE]" + nl + nl)
    return b"".join(out)


def serve(pieces_of: Any) -> httpx.MockTransport:
    """A fake API: ``pieces_of(request_body)`` gives the byte pieces of the streamed answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces_of(body)))

    return httpx.MockTransport(handler)


def sse_answer(text: str) -> bytes:
    import json as _json

    chunks = [
        {"id": "a", "model": "deepseek-v4-flash", "choices": [{"index": 0, "delta": {"content": text}}]},
        {"id": "a", "model": "deepseek-v4-flash", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
    ]
    return b"".join(b"data: " + _json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


SPLIT = Turn(
    text=["A\ud83d", "\ude00B"],
    reasoning=["think \ud83e", "\udd14 done"],
    calls=[("call_1", "echo", ['{"s": "x\ud83d', '\ude00y"}'])],
)


LONE = Turn(text=["\ude00 lone low, lone high at the end \ud83d"], reasoning=["r\ud83d"],
            calls=[("call_1", "echo", ['{"s": "\ud83d'])])
