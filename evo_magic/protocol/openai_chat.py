"""OpenAI Chat Completions protocol, as DeepSeek / EvoLink speak it (pure).

``build_body`` turns messages and options into the JSON body of
``POST /v1/chat/completions``. :class:`StreamParser` turns the ``data:`` payloads of the
server-sent events (already framed by httpx-sse in the transport) into typed events;
:func:`parse_response` does the same for a non-streamed body, so both end in the same
:class:`~evo_magic.core.snapshot.TurnSnapshot`.

Wire quirks handled (see shared/notes/protocol.md §2.3, §12): ``null`` fields mean "no
update"; usage may ride on any chunk, with or without choices, and the last non-null wins;
tool calls accumulate by ``index``; everything after ``[DONE]`` is ignored; an in-band
``{"error": ...}`` becomes :class:`~evo_magic.core.events.StreamFailed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from ..core.deltas import SurrogateJoin
from ..core.events import (
    Event,
    Finished,
    LogprobsDelta,
    ReasoningDelta,
    ResponseStarted,
    StreamFailed,
    TextDelta,
    ToolCallDelta,
    UsageReported,
)
from ..core.messages import Message
from ..core.options import LEGACY_THINKING, RequestOptions
from ..core.usage import Usage
from ..errors import ProtocolError, error_from_body
from .body import MALFORMED, decode_body, loads_event, prefix_last, text_of

PATH = "/v1/chat/completions"


def build_body(messages: Iterable[Message], opts: RequestOptions) -> dict[str, Any]:
    """The request body. Keys appear in a fixed order; unset options are left out. A prefix
    message (last) carries ``"prefix": true``: DeepSeek's chat prefix completion."""
    body: dict[str, Any] = {"model": opts.model, "messages": [m.to_openai() for m in prefix_last(messages)]}
    if opts.model not in LEGACY_THINKING or opts.thinking is not None:
        body["thinking"] = {"type": "enabled" if opts.thinking_on else "disabled"}
    if opts.reasoning_effort is not None and opts.thinking_on:
        body["reasoning_effort"] = opts.reasoning_effort
    for name in ("max_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty"):
        value = getattr(opts, name)
        if value is not None:
            body[name] = value
    if opts.stop:
        body["stop"] = list(opts.stop)
    if opts.json_mode:
        body["response_format"] = {"type": "json_object"}
    if opts.tools:
        body["tools"] = [dict(t) for t in opts.tools]
    if opts.tool_choice is not None:
        body["tool_choice"] = opts.tool_choice
    if opts.logprobs:
        body["logprobs"] = True
        if opts.top_logprobs is not None:
            body["top_logprobs"] = opts.top_logprobs
    if opts.logit_bias:
        body["logit_bias"] = dict(opts.logit_bias)
    if opts.n != 1:
        body["n"] = opts.n
    if opts.seed is not None:
        body["seed"] = opts.seed
    if opts.user is not None:
        body["user"] = opts.user
    body["stream"] = opts.stream
    if opts.stream:
        body["stream_options"] = {"include_usage": True}
    body.update(opts.extra)
    return body


#: Appends the events of one choice of a chunk (its index given) to a list.
ChoiceEvents: TypeAlias = Callable[[dict[str, Any], int, list[Event]], None]


def _delta_events(choice: dict[str, Any], idx: int, events: list[Event]) -> None:
    """A chat choice: its ``delta`` (or ``message``) and its logprobs."""
    delta = choice.get("delta")
    if delta is None:  # non-streamed shape inside a stream: tolerate
        delta = choice.get("message")
    if type(delta) is dict:
        reasoning = delta.get("reasoning_content")
        if type(reasoning) is str:
            events.append(ReasoningDelta(reasoning, choice=idx))
        content = delta.get("content")
        if type(content) is str and content:
            events.append(TextDelta(content, idx))
        calls = delta.get("tool_calls")
        if calls:
            events.extend(_tool_call_events(calls, idx))
    logprobs = choice.get("logprobs")
    if type(logprobs) is dict and logprobs.get("content"):
        events.append(LogprobsDelta(tuple(logprobs["content"]), idx))


def chunk_events(chunk: Mapping[str, Any], choice_events: ChoiceEvents = _delta_events) -> list[Event]:
    """Events of one decoded chunk (without the ResponseStarted bookkeeping): an in-band
    error, each choice (``choice_events`` reads its body), finish reasons and usage.

    Hot path (one call per streamed token): JSON gives plain dicts, so type checks use
    ``dict`` / ``str`` directly rather than the slower ABC checks.
    """
    events: list[Event] = []
    err = chunk.get("error")
    if err is not None:
        events.append(StreamFailed(error_from_body(_status_of(err), {"error": err})))
        return events
    for choice in chunk.get("choices") or ():
        if type(choice) is not dict:
            continue
        idx = choice.get("index") or 0
        if type(idx) is not int:
            raise TypeError(f"choice index {idx!r}")  # a malformed chunk (feed says so)
        choice_events(choice, idx, events)
        reason = choice.get("finish_reason")
        if reason:
            events.append(Finished(str(reason), idx))
    usage = chunk.get("usage")
    if type(usage) is dict:
        events.append(UsageReported(Usage.from_openai(usage)))
    return events


def _tool_call_events(calls: Any, idx: int) -> list[Event]:
    events: list[Event] = []
    for frag in calls:
        if type(frag) is not dict:
            continue
        fn = frag.get("function")
        fn = fn if type(fn) is dict else {}
        args = fn.get("arguments")
        events.append(
            ToolCallDelta(
                index=int(frag.get("index") or 0),
                id=text_of(frag.get("id")) or None,
                name=text_of(fn.get("name")) or None,
                arguments=args if type(args) is str else "",
                choice=idx,
            )
        )
    return events


def _status_of(err: Any) -> int:
    if isinstance(err, Mapping):
        for key in ("status", "code"):
            value = err.get(key)
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                return int(value)
    return 0


class StreamParser:
    """Incremental parser: ``feed(data)`` per SSE data payload, then ``flush()``.

    Never raises on input: a payload that is not JSON (or not shaped as a chunk) becomes a
    StreamFailed event carrying a ProtocolError, and anything after ``[DONE]`` is ignored.
    Surrogate pairs split across chunks are joined (:class:`~evo_magic.core.deltas.SurrogateJoin`).
    ``choice_events`` reads the body of a choice (the FIM codec's choices carry ``text``).
    """

    def __init__(self, choice_events: ChoiceEvents = _delta_events) -> None:
        self._choice_events = choice_events
        self.done = False
        self._started = False
        self._join = SurrogateJoin()

    def feed(self, data: str) -> list[Event]:
        if self.done:
            return []
        text = data.strip()
        if not text:
            return []
        if text == "[DONE]":
            self.done = True
            return []
        try:
            chunk = loads_event(text)
        except MALFORMED:
            snippet = text[:80]
            return [StreamFailed(ProtocolError(f"malformed event from the server: {snippet!r}"))]
        if type(chunk) is not dict:
            return [StreamFailed(ProtocolError(f"unexpected event from the server: {text[:80]!r}"))]
        events: list[Event] = []
        if not self._started and (chunk.get("id") or chunk.get("model")):
            self._started = True
            events.append(_started(chunk))
        try:
            events.extend(chunk_events(chunk, self._choice_events))
        except MALFORMED:
            return [StreamFailed(ProtocolError(f"unexpected event from the server: {text[:80]!r}"))]
        return self._join.feed(events)

    def flush(self) -> list[Event]:
        return self._join.flush()


def _started(data: Mapping[str, Any]) -> ResponseStarted:
    return ResponseStarted(text_of(data.get("id")), text_of(data.get("model")))


def parse_response(body: bytes | str | Mapping[str, Any]) -> list[Event]:
    """Events equivalent to a non-streamed response body (leading blank lines tolerated)."""
    return parse_body(body, _delta_events, "a chat completion")


def parse_body(body: bytes | str | Mapping[str, Any], choice_events: ChoiceEvents, shape: str) -> list[Event]:
    """Events of a non-streamed body whose choices ``choice_events`` reads (``shape`` names it
    in the error for a body that is not one)."""
    data = decode_body(body)
    events: list[Event] = [_started(data)]
    try:
        events.extend(chunk_events(data, choice_events))
    except MALFORMED:
        raise ProtocolError(f"the server sent a body that is not shaped as {shape}") from None
    join = SurrogateJoin()
    return join.feed(events) + join.flush()
