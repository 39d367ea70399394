"""The emulator's HTTP application (Starlette) and its shared state.

Serves ``POST /v1/chat/completions`` and ``POST /v1/messages`` like EvoLink does for DeepSeek
V4: Bearer auth, the docs' validation with the vendor's error bodies, thinking, the
``reasoning_content`` echo rule, prefix-cache usage in 64-token units, ``: keep-alive``
comments before the first chunk, a configurable pace, and injectable failures for tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import encode, validate
from .answers import plan
from .tokens import PrefixCache, tokenize

log = logging.getLogger(__name__)
HIDDEN_THINKING_TOKENS = 79  # DeepSeek adds hidden prompt tokens in thinking mode (recordings: 18 vs 97)
BATCH = 32  # chunks per write when unthrottled


class InjectedReset(Exception):
    """Raised inside a stream to drop the connection mid-answer (a test fault)."""


@dataclass
class Fault:
    kind: str
    after: int = 5  # chunks sent before a mid-stream fault
    seconds: float = 30.0  # stall length
    retry_after: float | None = 1.0
    finish: str | None = None


@dataclass
class State:
    tokens_per_second: float | None = None
    first_token_delay: float = 0.0
    api_keys: set[str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    cache: PrefixCache = field(default_factory=PrefixCache)
    reasoning_of: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> answer hash -> reasoning


def _error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    headers: Mapping[str, str] | None = None,
    anthropic: bool = False,
) -> JSONResponse:
    if anthropic:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        code = "invalid_request_error" if status in (400, 401, 422) else kind
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _answer_hash(content: str, calls: list[Any] | None) -> str:
    raw = (content or "") + json.dumps(calls or [], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, Mapping) else str(b) for b in content)
    return ""


class Handler:
    def __init__(self, state: State):
        self.state = state

    # --- shared -------------------------------------------------------------------------
    def _key(self, request: Request, anthropic: bool) -> tuple[str | None, Response | None]:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        allowed = self.state.api_keys
        if not key or key == "invalid" or (allowed is not None and key not in allowed):
            masked = "****" + key[-4:] if key else "(none)"
            return None, _error(
                401,
                f"Authentication Fails, Your api key: {masked} is invalid",
                "authentication_error",
                anthropic=anthropic,
            )
        return key, None

    async def _read(self, request: Request, anthropic: bool) -> tuple[str, Any] | Response:
        """The API key and the JSON body, or the vendor's 401 / 400 response."""
        key, denied = self._key(request, anthropic)
        if denied is not None:
            return denied
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Failed to parse the request body as JSON", anthropic=anthropic)
        self.state.requests.append(body)
        return str(key), body

    def _fault_response(self, fault: Fault | None, anthropic: bool) -> Response | None:
        if fault is None:
            return None
        k = fault.kind
        if k == "429":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return _error(429, "Rate Limit Reached", "rate_limit_error", headers, anthropic)
        if k in ("500", "502", "503"):
            return _error(
                int(k),
                "Server Error" if k == "500" else "Server Overloaded",
                "overloaded_error" if anthropic else "server_error",
                anthropic=anthropic,
            )
        if k == "401":
            return _error(
                401,
                "Authentication Fails, Your api key: ****-key is invalid",
                "authentication_error",
                anthropic=anthropic,
            )
        if k == "402":
            return _error(
                402,
                "Insufficient Balance",
                "billing_error" if anthropic else "insufficient_balance",
                anthropic=anthropic,
            )
        if k == "context_length":
            return _error(
                400,
                "This model's maximum context length is 1048565 tokens. However, you requested "
                "1250025 tokens (1250025 in the messages, 0 in the completion). Please reduce the "
                "length of the messages or completion.",
                anthropic=anthropic,
            )
        return None

    def _usage_tokens(self, key: str, prompt_tokens: list[str], thinking: bool) -> tuple[int, int]:
        full = prompt_tokens + (["<|think|>"] * HIDDEN_THINKING_TOKENS if thinking else [])
        hit = self.state.cache.hit(key, full)
        return len(full), hit

    async def _stream(self, frames: Iterator[bytes], fault: Fault | None) -> AsyncIterator[bytes]:
        st = self.state
        yield b": keep-alive\n\n"
        if st.first_token_delay:
            waited = 0.0
            while waited < st.first_token_delay:
                step = min(1.0, st.first_token_delay - waited)
                await asyncio.sleep(step)
                waited += step
                if waited < st.first_token_delay:
                    yield b": keep-alive\n\n"
        rate = st.tokens_per_second
        t0 = time.monotonic()
        batch: list[bytes] = []
        for i, frame in enumerate(frames):
            if fault is not None and i == fault.after:
                if fault.kind == "reset":
                    if batch:
                        yield b"".join(batch)
                    raise InjectedReset("connection reset by the emulator (injected)")
                if fault.kind == "stall":
                    if batch:
                        yield b"".join(batch)
                        batch = []
                    await asyncio.sleep(fault.seconds)
                if fault.kind == "malformed":
                    batch.append(b"data: {this is not json\n\n")
            if rate:
                due = t0 + i / rate
                now = time.monotonic()
                if due > now:
                    if batch:
                        yield b"".join(batch)
                        batch = []
                    await asyncio.sleep(due - now)
                batch.append(frame)
                if len(batch) >= 8 or due > now:
                    yield b"".join(batch)
                    batch = []
            else:
                batch.append(frame)
                if len(batch) >= BATCH:
                    yield b"".join(batch)
                    batch = []
                    await asyncio.sleep(0)
        if batch:
            yield b"".join(batch)

    # --- OpenAI Chat Completions ------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        read = await self._read(request, anthropic=False)
        if isinstance(read, Response):
            return read
        key, body = read
        problem = validate.check_chat(body)
        if problem:
            return _error(400, problem)
        fault = self.state.faults.popleft() if self.state.faults else None
        early = self._fault_response(fault, anthropic=False)
        if early is not None:
            return early
        thinking = validate.thinking_on(body)
        seen = self.state.reasoning_of.setdefault(key, {})
        conversation: list[tuple[str, str]] = []
        prompt_tokens: list[str] = []
        for m in body["messages"]:
            role, content = m["role"], _text(m.get("content"))
            if role == "assistant":
                calls = m.get("tool_calls")
                expected = seen.get(_answer_hash(content, [c.get("function") for c in calls or []]))
                if expected is not None and m.get("reasoning_content") != expected:
                    return _error(400, validate.ECHO_RULE)
                if thinking and calls and "reasoning_content" not in m:
                    return _error(400, validate.ECHO_RULE)
                content += "".join(json.dumps(c.get("function"), sort_keys=True) for c in calls or [])
            conversation.append((role, content))
            prompt_tokens += [f"<|{role}|>", *tokenize(content)]
        model = validate.MODELS[body["model"]]
        rid = str(uuid.uuid4())
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        json_mode = (body.get("response_format") or {}).get("type") == "json_object"
        choices = []
        for i in range(body.get("n") or 1):
            p = plan(
                conversation, thinking=thinking, tools=body.get("tools") or [], json_mode=json_mode, choice=i
            )
            r = encode.cut(p, body.get("max_tokens"), stop)
            r.logprobs, r.top_logprobs = bool(body.get("logprobs")), body.get("top_logprobs") or 0
            if fault is not None and fault.finish:
                r.finish_reason = fault.finish
            choices.append(r)
        n_prompt, hit = self._usage_tokens(key, prompt_tokens, thinking)
        first = choices[0]
        completion = sum(r.completion_tokens for r in choices)
        usage: dict[str, Any] = {
            "prompt_tokens": n_prompt,
            "completion_tokens": completion,
            "total_tokens": n_prompt + completion,
            "prompt_tokens_details": {"cached_tokens": hit},
            "prompt_cache_hit_tokens": hit,
            "prompt_cache_miss_tokens": n_prompt - hit,
        }
        if thinking:
            usage["completion_tokens_details"] = {
                "reasoning_tokens": sum(len(r.reasoning or []) for r in choices)
            }
        answer = "".join(first.content)
        calls_fn = [{"name": c["name"], "arguments": c["arguments"]} for c in first.tool_calls]
        if first.reasoning is not None:
            seen[_answer_hash(answer, calls_fn)] = "".join(first.reasoning)
        echoed = answer + "".join(json.dumps(c, sort_keys=True) for c in calls_fn)
        self.state.cache.remember(key, prompt_tokens, [*prompt_tokens, "<|assistant|>", *tokenize(echoed)])
        headers = {"x-request-id": rid}
        if not body.get("stream"):
            text = json.dumps(encode.openai_body(rid, model, choices, usage), ensure_ascii=False)
            return Response("\n" + text, media_type="application/json", headers=headers)
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        frames: Iterator[bytes] = (
            encode.sse(c) for c in encode.openai_chunks(rid, model, choices, usage, include)
        )
        if fault is not None and fault.kind == "error_event":
            frames = _cut_with(
                frames,
                fault.after,
                encode.sse(
                    {
                        "error": {
                            "message": "upstream overloaded mid-stream",
                            "type": "server_error",
                            "code": 503,
                        }
                    }
                ),
            )
        else:
            frames = _then(frames, b"data: [DONE]\n\n")
        return StreamingResponse(
            self._stream(frames, fault),
            media_type="text/event-stream; charset=utf-8",
            headers={**headers, "Cache-Control": "no-cache"},
        )

    # --- Anthropic Messages -----------------------------------------------------------------
    async def messages(self, request: Request) -> Response:
        read = await self._read(request, anthropic=True)
        if isinstance(read, Response):
            return read
        key, body = read
        problem = validate.check_messages_api(body)
        if problem:
            return _error(400, problem, anthropic=True)
        fault = self.state.faults.popleft() if self.state.faults else None
        early = self._fault_response(fault, anthropic=True)
        if early is not None:
            return early
        model = body.get("model") if body.get("model") in validate.MODELS else "deepseek-v4-flash"
        thinking = validate.thinking_on({**body, "model": model})
        system = body.get("system")
        conversation: list[tuple[str, str]] = []
        if system:
            conversation.append(("system", _text(system)))
        for m in body["messages"]:
            blocks = (
                m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
            )
            for b in blocks:
                kind = b.get("type")
                if kind == "tool_result":
                    conversation.append(("tool", _text(b.get("content"))))
                elif kind == "text":
                    conversation.append((m["role"], b.get("text", "")))
                elif kind == "tool_use":
                    conversation.append(
                        ("assistant", json.dumps({"name": b.get("name"), "input": b.get("input")}))
                    )
        prompt_tokens = [t for role, text in conversation for t in (f"<|{role}|>", *tokenize(text))]
        tools = [
            {"function": {"name": t.get("name"), "parameters": t.get("input_schema")}}
            for t in body.get("tools") or []
        ]
        p = plan(conversation, thinking=thinking, tools=tools, call_prefix="toolu")
        r = encode.cut(p, body.get("max_tokens"), list(body.get("stop_sequences") or []))
        if fault is not None and fault.finish:
            r.finish_reason = fault.finish
        n_prompt, hit = self._usage_tokens(key, prompt_tokens, thinking)
        self.state.cache.remember(key, prompt_tokens, [*prompt_tokens, "<|assistant|>", *r.content])
        usage = {
            "input_tokens": n_prompt - hit,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": hit,
            "output_tokens": r.completion_tokens,
        }
        rid = str(uuid.uuid4())
        if not body.get("stream"):
            return JSONResponse(encode.anthropic_body(rid, model, r, usage), headers={"x-request-id": rid})
        frames: Iterator[bytes] = (
            encode.sse(e, e["type"]) for e in encode.anthropic_events(rid, model, r, usage)
        )
        if fault is not None and fault.kind == "error_event":
            frames = _cut_with(
                frames,
                fault.after,
                encode.sse(
                    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
                ),
            )
        return StreamingResponse(
            self._stream(frames, fault),
            media_type="text/event-stream; charset=utf-8",
            headers={"x-request-id": rid, "Cache-Control": "no-cache"},
        )


def _then(frames: Iterator[bytes], last: bytes) -> Iterator[bytes]:
    yield from frames
    yield last


def _cut_with(frames: Iterator[bytes], after: int, final: bytes) -> Iterator[bytes]:
    for i, frame in enumerate(frames):
        if i == after:
            break
        yield frame
    yield final


async def _not_found(request: Request) -> Response:
    return _error(404, f"Unknown path {request.url.path}", "not_found_error")


def create_app(state: State) -> Starlette:
    handler = Handler(state)
    return Starlette(
        routes=[
            Route("/v1/chat/completions", handler.chat, methods=["POST"]),
            Route("/chat/completions", handler.chat, methods=["POST"]),
            Route("/v1/messages", handler.messages, methods=["POST"]),
            Route("/{path:path}", _not_found, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
