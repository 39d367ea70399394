"""Anthropic Messages protocol, as EvoLink serves it for DeepSeek V4 (pure).

``POST /v1/messages`` with Bearer auth. Requests carry a top-level ``system``, a required
``max_tokens``, ``thinking``, ``output_config.effort``, tools with ``input_schema`` and
``tool_choice`` auto / any / tool / none. Streams are the standard event sequence
(message_start, content_block_start / delta / stop, message_delta, message_stop, ping, error);
see shared/notes/protocol.md §7. Both shapes map to the same events as the OpenAI codec.

Thinking blocks keep their signatures (also when their text is empty) and are sent back
unchanged. A turn that came over the OpenAI protocol has no signature; DeepSeek's signature
is the message id, so the converted block carries the response id recorded with the turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.deltas import SurrogateJoin
from ..core.events import (
    Event,
    Finished,
    ReasoningDelta,
    ResponseStarted,
    StreamFailed,
    TextDelta,
    ToolCallDelta,
    UsageReported,
)
from ..core.messages import Message
from ..core.options import RequestOptions
from ..core.usage import Usage
from ..errors import ProtocolError, error_from_body
from .body import MALFORMED, decode_body, loads_event, prefix_last, text_of

PATH = "/v1/messages"
DEFAULT_MAX_TOKENS = 32_000
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 503,
}


# --- requests ---------------------------------------------------------------------------


def _assistant_blocks(m: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    fallback_sig = str(m.meta.get("response_id") or "")
    if m.thinking:
        for tb in m.thinking:
            blocks.append(
                {"type": "thinking", "thinking": tb.text, "signature": tb.signature or fallback_sig}
            )
    elif m.reasoning is not None:
        blocks.append({"type": "thinking", "thinking": m.reasoning, "signature": fallback_sig})
    if m.content:
        blocks.append({"type": "text", "text": m.content})
    for call in m.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            args = {"_raw_arguments": call.arguments}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
    return blocks


def to_anthropic(messages: Iterable[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split neutral messages into the top-level system text and alternating turns. A prefix
    message (last) is the final assistant turn, which the model continues (there is no
    ``prefix`` field on this protocol); a lone text block there is sent as a string, as the
    prefill examples do."""
    messages = prefix_last(messages)
    systems: list[str] = []
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            prev = out[-1]["content"]
            if isinstance(prev, str):
                prev = [{"type": "text", "text": prev}]
            out[-1]["content"] = prev + blocks
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            systems.append(m.content or "")
        elif m.role == "user":
            push("user", [{"type": "text", "text": m.content or ""}])
        elif m.role == "tool":
            push(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id,
                        "content": m.content or "",
                    }
                ],
            )
        elif m.role == "assistant":
            blocks = _assistant_blocks(m)
            if blocks or not m.prefix:  # an empty prefix continues nothing: the turn is left out
                push("assistant", blocks)
    prefilled = bool(messages) and messages[-1].prefix
    for i, turn in enumerate(out):  # a lone text block is sent as a plain string, as clients usually do
        blocks = turn["content"]
        lone = len(blocks) == 1 and blocks[0]["type"] == "text"
        if lone and (turn["role"] == "user" or (prefilled and i == len(out) - 1)):
            turn["content"] = blocks[0]["text"]
    return ("\n\n".join(systems) if systems else None), out


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    fn = tool.get("function", tool)
    out = {
        "name": fn["name"],
        "input_schema": fn.get("parameters")
        or fn.get("input_schema")
        or {"type": "object", "properties": {}},
    }
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, Mapping):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        return {"type": "tool", "name": name}
    return {"type": {"required": "any"}.get(choice, choice)}


def build_body(messages: Iterable[Message], opts: RequestOptions) -> dict[str, Any]:
    system, turns = to_anthropic(messages)
    body: dict[str, Any] = {
        "model": opts.model,
        "max_tokens": opts.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system is not None:
        body["system"] = system
    body["messages"] = turns
    body["thinking"] = {"type": "enabled" if opts.thinking_on else "disabled"}
    if opts.reasoning_effort is not None and opts.thinking_on:
        body["output_config"] = {
            "effort": {"medium": "high"}.get(opts.reasoning_effort, opts.reasoning_effort)
        }
    if opts.temperature is not None:
        body["temperature"] = opts.temperature
    if opts.top_p is not None:
        body["top_p"] = opts.top_p
    if opts.stop:
        body["stop_sequences"] = list(opts.stop)
    if opts.tools:
        body["tools"] = [_tool(t) for t in opts.tools]
    if opts.tool_choice is not None:
        body["tool_choice"] = _tool_choice(opts.tool_choice)
    body["stream"] = opts.stream
    body.update(opts.extra)
    return body


# --- responses --------------------------------------------------------------------------


def _error(err: Any) -> StreamFailed:
    kind = err.get("type") if isinstance(err, Mapping) else None
    return StreamFailed(error_from_body(ERROR_STATUS.get(str(kind), 0), {"error": err}))


class StreamParser:
    """Incremental parser of the Anthropic event stream (one ``data`` payload per call).

    Never raises on input: a payload that is not JSON or not shaped as an event becomes a
    StreamFailed event carrying a ProtocolError; ``ping``, ``content_block_stop`` and unknown
    event types are skipped. Only an ``error`` event or a non-null ``"error"`` is an error.
    Surrogate pairs split across events are joined (:class:`~evo_magic.core.deltas.SurrogateJoin`).
    """

    def __init__(self) -> None:
        self.done = False
        self._tool_index: dict[int, int] = {}
        self._join = SurrogateJoin()

    def feed(self, data: str) -> list[Event]:
        if self.done or not data.strip():
            return []
        try:
            event = loads_event(data.strip())
        except MALFORMED:
            return [StreamFailed(ProtocolError(f"malformed event from the server: {data[:80]!r}"))]
        if isinstance(event, Mapping):
            try:
                return self._join.feed(self._event(event))
            except MALFORMED:
                pass
        return [StreamFailed(ProtocolError(f"unexpected event from the server: {data[:80]!r}"))]

    def _event(self, event: Mapping[str, Any]) -> list[Event]:
        kind = event.get("type")
        if kind == "message_start":
            msg = event.get("message") or {}
            out: list[Event] = [ResponseStarted(text_of(msg.get("id")), text_of(msg.get("model")))]
            if isinstance(msg.get("usage"), Mapping):
                out.append(UsageReported(Usage.from_anthropic(msg["usage"]), partial=True))
            return out
        if kind == "content_block_start":
            return self._block(int(event.get("index") or 0), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(event.get("index") or 0), event.get("delta") or {})
        if kind == "message_delta":
            out = []
            delta = event.get("delta") or {}
            if isinstance(event.get("usage"), Mapping):
                out.append(UsageReported(Usage.from_anthropic(event["usage"]), partial=True))
            reason = delta.get("stop_reason")
            if reason:
                out.append(
                    Finished(
                        STOP_REASONS.get(reason, str(reason)),
                        stop_sequence=text_of(delta.get("stop_sequence")),
                    )
                )
            return out
        if kind == "message_stop":
            self.done = True
            return []
        if kind == "error" or event.get("error") is not None:  # a ping may carry "error": null
            return [_error(event.get("error"))]
        return []  # ping, content_block_stop, unknown future events

    def _block(self, index: int, block: Mapping[str, Any]) -> list[Event]:
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            return [
                ReasoningDelta(
                    text_of(block.get("thinking")) or "", text_of(block.get("signature")) or None, block=index
                )
            ]
        if kind == "text":
            text = text_of(block.get("text")) or ""
            return [TextDelta(text)] if text else []
        if kind == "tool_use":
            slot = self._tool_index.setdefault(index, len(self._tool_index))
            initial = block.get("input")
            args = json.dumps(initial) if isinstance(initial, Mapping) and initial else ""
            return [ToolCallDelta(slot, text_of(block.get("id")), text_of(block.get("name")), args)]
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[Event]:
        kind = delta.get("type")
        if kind == "thinking_delta":
            return [ReasoningDelta(text_of(delta.get("thinking")) or "", block=index)]
        if kind == "signature_delta":
            return [ReasoningDelta("", text_of(delta.get("signature")) or "", block=index)]
        if kind == "text_delta":
            text = text_of(delta.get("text")) or ""
            return [TextDelta(text)] if text else []
        if kind == "input_json_delta":
            slot = self._tool_index.setdefault(index, len(self._tool_index))
            return [ToolCallDelta(slot, arguments=text_of(delta.get("partial_json")) or "")]
        return []

    def flush(self) -> list[Event]:
        return self._join.flush()


def parse_response(body: bytes | str | Mapping[str, Any]) -> list[Event]:
    """Events equivalent to a non-streamed Messages response."""
    data = decode_body(body)
    if data.get("type") == "error":
        return [_error(data.get("error"))]
    try:
        events = _response_events(data)
    except MALFORMED:
        raise ProtocolError("the server sent a body that is not shaped as a message") from None
    join = SurrogateJoin()
    return join.feed(events) + join.flush()


def _response_events(data: Mapping[str, Any]) -> list[Event]:
    events: list[Event] = [ResponseStarted(text_of(data.get("id")), text_of(data.get("model")))]
    parser = StreamParser()
    for i, block in enumerate(data.get("content") or ()):
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "tool_use":
            slot = parser._tool_index.setdefault(i, len(parser._tool_index))
            events.append(
                ToolCallDelta(
                    slot, text_of(block.get("id")), text_of(block.get("name")), json.dumps(block.get("input") or {})
                )
            )
        else:
            events.extend(parser._block(i, block))
    if isinstance(data.get("usage"), Mapping):
        events.append(UsageReported(Usage.from_anthropic(data["usage"])))
    reason = data.get("stop_reason")
    events.append(
        Finished(
            STOP_REASONS.get(str(reason), str(reason or "stop")),
            stop_sequence=text_of(data.get("stop_sequence")),
        )
    )
    return events
