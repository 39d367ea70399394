"""Session test helpers: a fake API answering from a script, SSE chunk builders, the tool-cap API."""

from __future__ import annotations

import json
from typing import Any

import httpx

from evo_magic.runtime import root

from ..streams import Turn, payloads, serve, sse


def sse_chunks(*chunks: dict, done: bool = True) -> bytes:
    out = b": keep-alive\n\n" + b"".join(
        b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks
    )
    return out + (b"data: [DONE]\n\n" if done else b"")


def answer(text: str, reasoning: str | None, n_prompt: int = 10) -> bytes:
    base = {"id": "r1", "model": "deepseek-v4-flash", "object": "chat.completion.chunk"}
    chunks = []
    if reasoning is not None:
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": None, "reasoning_content": ""},
                    }
                ],
            }
        )
        chunks.append(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"content": None, "reasoning_content": reasoning}}
                ],
            }
        )
    chunks.append({**base, "choices": [{"index": 0, "delta": {"content": text}}]})
    usage = {
        "prompt_tokens": n_prompt,
        "completion_tokens": 5,
        "prompt_cache_hit_tokens": 0,
        "prompt_cache_miss_tokens": n_prompt,
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": 3}
    chunks.append(
        {
            **base,
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
            "usage": usage,
        }
    )
    return sse_chunks(*chunks)


class FakeApi:
    """Answers "answer N" (with reasoning when thinking is on) and records request bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.script: list = []  # optional queued responses / exceptions

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        n = len(self.bodies)
        thinking = body.get("thinking", {}).get("type") != "disabled"
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=answer(f"answer {n}", f"reasoning {n}" if thinking else None),
        )


class Api:
    """Round 1 asks for ``calls`` calls of ``ping``; every later request gets a plain answer.
    ``again(calls)`` starts over (a session keeps its transport, so the fake stays the same)."""

    def __init__(self, protocol: str, calls: int) -> None:
        self.protocol = protocol
        self.again(calls)

    def again(self, calls: int) -> Api:
        self.calls, self.bodies = calls, []
        self.ids = [f"call_{id(self.bodies)}_{i}" for i in range(calls)]  # unique to this question
        return self

    def __call__(self, body: dict[str, Any]) -> list[bytes]:
        self.bodies.append(body)
        if len(self.bodies) == 1:
            turn = Turn(calls=[(cid, "ping", ['{"n": ', f"{i}}}"]) for i, cid in enumerate(self.ids)])
        else:
            turn = Turn(text=["All ", "done."])
        return [sse(self.protocol, payloads(self.protocol, turn))]

    def results(self) -> list[str]:
        """The results of this question's calls that the second request carried, in order."""
        messages = self.bodies[1]["messages"]
        if self.protocol == "openai":
            found = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
        else:
            blocks = [b for m in messages if isinstance(m["content"], list) for b in m["content"]]
            found = {b["tool_use_id"]: b["content"] for b in blocks if b["type"] == "tool_result"}
        assert list(found)[-len(self.ids):] == self.ids  # one result per call, in order
        return [found[cid] for cid in self.ids]


def use(api: Api) -> Api:
    root().transport_options = {"http_transport": serve(api)}
    return api


class Recording(httpx.HTTPTransport):
    """A real transport (to the emulator over loopback) that keeps each request's path and
    JSON body, in order: ``sent`` is a list of ``(path, body)``."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, json.loads(request.read())))
        return super().handle_request(request)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.sent]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.sent]
