"""The HTTP side shared by both protocols: the vendor's error bodies, Bearer auth and body
reading, injected failures, and the paced writers for SSE streams and (slow) JSON bodies."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .state import Fault, InjectedReset, State

KEEPALIVE = b": keep-alive\n\n"
NOT_GZIP = b"\xff\xfe these bytes are not gzip"  # a "gzip" fault's body from where it strikes
_CORRUPT = b"\x00corrupt\x00"  # marks, among the frames, where a "gzip" fault strikes
JSON_TYPE = "application/json"
BATCH = 64  # SSE events per write when unthrottled (or when behind the pace)
CONTEXT_LIMIT = 1_048_565  # tokens, as a real DeepSeek 400 states it
SSE_TYPE = "text/event-stream; charset=utf-8"


def new_id() -> str:
    return str(uuid.uuid4())


def error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    *,
    anthropic: bool = False,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response shaped as the vendor's: ``{"error": {message, type, param, code}}``
    on the OpenAI protocol, ``{"type": "error", "error": {type, message}}`` on Anthropic's."""
    if anthropic:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        code = "invalid_request_error" if status in (400, 401, 404, 405, 422) else kind
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": new_id(), **(headers or {})})


def context_length_error(prompt: int, completion: int, *, anthropic: bool = False) -> JSONResponse:
    return error(
        400,
        f"This model's maximum context length is {CONTEXT_LIMIT} tokens. However, you requested "
        f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). "
        "Please reduce the length of the messages or completion.",
        anthropic=anthropic,
    )


def api_key(request: Request, state: State) -> str | None:
    """The Bearer key if the emulator accepts it (any non-empty key but "invalid", or one of
    ``state.api_keys`` when that is set)."""
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not key or key == "invalid" or (state.api_keys is not None and key not in state.api_keys):
        return None
    return key


async def read(request: Request, state: State, *, anthropic: bool) -> tuple[str, Any] | Response:
    """The API key and the parsed JSON body, or the vendor's 401 / 400 response."""
    key = api_key(request, state)
    if key is None:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
        return error(
            401,
            f"Authentication Fails, Your api key: ****{given[-4:]} is invalid",
            "authentication_error",
            anthropic=anthropic,
        )
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid UTF-8"
        return error(400, f"Failed to parse the request body as JSON: {message}{where}", anthropic=anthropic)
    state.received(body)
    return key, body


async def read_valid(
    request: Request, state: State, check: Callable[[Any], str | None], *, anthropic: bool
) -> tuple[str, Any] | Response:
    """``read``, then ``check`` the body: the key and body, or the vendor's 401 / 400."""
    got = await read(request, state, anthropic=anthropic)
    if isinstance(got, Response):
        return got
    problem = check(got[1])
    return error(400, problem, anthropic=anthropic) if problem else got


def too_long(prompt: int, max_tokens: int | None, *, anthropic: bool) -> Response | None:
    """The context-length 400 when the prompt and max_tokens exceed the context."""
    if prompt + (max_tokens or 0) <= CONTEXT_LIMIT:
        return None
    return context_length_error(prompt, max_tokens or 0, anthropic=anthropic)


def before_body(
    state: State, prompt: int, max_tokens: int | None, *, anthropic: bool
) -> tuple[Fault | None, Response | None]:
    """What strikes before the body: the context-length 400, else the next queued fault (with
    its response when it strikes before the body)."""
    early = too_long(prompt, max_tokens, anthropic=anthropic)
    return (None, early) if early is not None else take_fault(state, anthropic=anthropic)


def take_fault(state: State, *, anthropic: bool) -> tuple[Fault | None, Response | None]:
    """The next queued fault, and its response if it strikes before the body."""
    fault = state.next_fault()
    return fault, fault_response(fault, anthropic=anthropic)


def fault_response(fault: Fault | None, *, anthropic: bool) -> Response | None:
    """The response of a fault that strikes before the body (None for mid-stream kinds)."""
    if fault is None:
        return None
    k = fault.kind
    if k == "429":
        after = fault.retry_after
        headers = {} if after is None else {"Retry-After": after if isinstance(after, str) else f"{after:g}"}
        return error(429, "Rate Limit Reached", "rate_limit_error", anthropic=anthropic, headers=headers)
    if k == "gzip" and fault.status is not None:
        return Response(NOT_GZIP, fault.status, {"content-encoding": "gzip", "x-request-id": new_id()}, JSON_TYPE)
    if k in ("500", "502", "503"):
        kind = "overloaded_error" if anthropic else "server_error"
        return error(int(k), "Server Error" if k == "500" else "Server Overloaded", kind, anthropic=anthropic)
    if k == "401":
        message = "Authentication Fails, Your api key: ****-key is invalid"
        return error(401, message, "authentication_error", anthropic=anthropic)
    if k == "402":
        kind = "billing_error" if anthropic else "insufficient_balance"
        return error(402, "Insufficient Balance", kind, anthropic=anthropic)
    if k == "context_length":
        return context_length_error(1_250_025, 0, anthropic=anthropic)
    return None


def said(events: Iterable[dict[str, Any]], fault: Fault | None, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """``events`` as the "say" fault changes them: before the first delta of each text field in
    ``fields`` (e.g. the answer and the thinking), copies of that delta carrying ``fault.text``
    one UTF-16 code unit at a time, so every astral character is split across two events."""
    units = _units(fault.text) if fault is not None and fault.kind == "say" else []
    pending = list(fields) if units else []
    for event in events:
        choices = event.get("choices")
        delta = choices[0].get("delta") if choices else event.get("delta")
        for name in [f for f in pending if isinstance(delta, dict) and delta.get(f)]:
            pending.remove(name)
            for unit in units:
                copy = {**(delta or {}), name: unit}
                yield {**event, "choices": [{**choices[0], "delta": copy}]} if choices else {**event, "delta": copy}
        yield event


def _units(text: str) -> list[str]:
    """``text`` as UTF-16 code units (an astral character becomes its two surrogates)."""
    data = text.encode("utf-16-le")
    return [chr(int.from_bytes(data[i : i + 2], "little")) for i in range(0, len(data), 2)]


def error_event() -> bytes:
    """The in-band error an "error_event" fault sends on the OpenAI protocol (gateway style)."""
    body = {"error": {"message": "upstream overloaded mid-stream", "type": "server_error", "code": 503}}
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def then(frames: Iterable[bytes], last: bytes) -> Iterator[bytes]:
    yield from frames
    yield last


def cut_with(frames: Iterable[bytes], after: int, final: bytes) -> Iterator[bytes]:
    """The first ``after`` frames, then ``final`` (an error event) instead of the rest."""
    for i, frame in enumerate(frames):
        if i == after:
            break
        yield frame
    yield final


async def _queued(seconds: float, beat: bytes) -> AsyncIterator[bytes]:
    """Wait ``seconds``, sending ``beat`` every second meanwhile, as DeepSeek does while a
    request is queued."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, left))
        if deadline - time.monotonic() > 0:
            yield beat


def paced(frames: Iterable[bytes], state: State, fault: Fault | None = None) -> AsyncIterator[bytes]:
    """``_paced`` frames; for a "gzip" fault, compressed and turning corrupt at ``fault.after``."""
    if fault is None or fault.kind != "gzip":
        return _paced(frames, state, fault)
    return _corrupt_gzip(_paced(cut_with(frames, fault.after, _CORRUPT), state))


async def _corrupt_gzip(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` as one gzip stream, flushed chunk by chunk, until the _CORRUPT mark: from
    there bytes that are not gzip instead of the rest."""
    z = zlib.compressobj(wbits=31)
    async for chunk in chunks:
        good, mark, _ = chunk.partition(_CORRUPT)
        yield z.compress(good) + z.flush(zlib.Z_SYNC_FLUSH)
        if mark:
            yield NOT_GZIP
            return
    yield z.flush()


async def _paced(frames: Iterable[bytes], state: State, fault: Fault | None = None) -> AsyncIterator[bytes]:
    """Write SSE ``frames``: a ``: keep-alive`` comment first (one a second during the
    first-token delay), then event i at ``t0 + i / rate`` on an absolute schedule, or as fast
    as possible in batches when unthrottled. Mid-stream faults strike at event ``fault.after``."""
    yield KEEPALIVE
    async for beat in _queued(state.first_token_delay, KEEPALIVE):
        yield beat
    rate = state.tokens_per_second
    t0 = time.monotonic()
    batch: list[bytes] = []
    for i, frame in enumerate(frames):
        if fault is not None and i == fault.after:
            if batch:
                yield b"".join(batch)
                batch = []
            if fault.kind == "reset":
                raise InjectedReset("connection reset by the emulator (injected)")
            if fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
            if fault.kind == "malformed":
                batch.append(b"data: {this is not json\n\n")
        wait = t0 + i / rate - time.monotonic() if rate else 0.0
        if wait > 0:
            if batch:
                yield b"".join(batch)
                batch = []
            await asyncio.sleep(wait)
        batch.append(frame)
        if wait > 0 or len(batch) >= BATCH:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


def openai_stream(frames: Iterator[bytes], request_id: str, state: State, fault: Fault | None) -> StreamingResponse:
    """An OpenAI-protocol SSE stream (chat or FIM), paced: ``data: [DONE]`` at the end, or the
    in-band error of an "error_event" fault instead of the rest."""
    if fault is not None and fault.kind == "error_event":
        frames = cut_with(frames, fault.after, error_event())
    else:
        frames = then(frames, b"data: [DONE]\n\n")
    return stream_response(paced(frames, state, fault), request_id, fault)


def stream_response(frames: AsyncIterator[bytes], request_id: str, fault: Fault | None = None) -> StreamingResponse:
    headers = {"x-request-id": request_id, "Cache-Control": "no-cache", **_encoding(fault)}
    return StreamingResponse(frames, media_type=SSE_TYPE, headers=headers)


def _encoding(fault: Fault | None) -> dict[str, str]:
    return {"content-encoding": "gzip"} if fault is not None and fault.kind == "gzip" else {}


def json_response(
    body: Mapping[str, Any], request_id: str, state: State, output_tokens: int, fault: Fault | None = None
) -> Response:
    """A non-streamed body after one blank line (DeepSeek's queue keep-alive). When paced, the
    body comes after the time the answer would take to generate, with a ``\\n`` every second.
    A "gzip" fault sends bytes that are not gzip instead."""
    headers = {"x-request-id": request_id, **_encoding(fault)}
    if headers.get("content-encoding"):
        return Response(NOT_GZIP, media_type=JSON_TYPE, headers=headers)
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    rate = state.tokens_per_second
    if not rate:
        return Response("\n" + text, media_type=JSON_TYPE, headers=headers)
    seconds = state.first_token_delay + output_tokens / rate

    async def slow() -> AsyncIterator[bytes]:
        yield b"\n"
        async for beat in _queued(seconds, b"\n"):
            yield beat
        yield text.encode()

    return StreamingResponse(slow(), media_type=JSON_TYPE, headers=headers)
