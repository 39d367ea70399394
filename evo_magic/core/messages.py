"""Conversation messages in one protocol-neutral form (pure).

History is stored as these values and serialized per protocol at request time. The
serialization is deterministic, so every request re-sends earlier messages byte for byte
and extends the previous request: the API's prefix cache keeps hitting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .snapshot import ThinkingBlock, ToolCall, TurnSnapshot


@dataclass(frozen=True)
class Message:
    """One message. ``reasoning`` is None when the model sent no thinking at all (thinking
    off) and a string, possibly empty, when it did; it is echoed back verbatim.

    ``prefix`` marks an assistant message that the model is to continue (prefix continuation):
    it must be the last message of a request; the answer is what comes after its text (and,
    in thinking mode, after its reasoning)."""

    role: str  # "system" | "user" | "assistant" | "tool"
    content: str | None = None
    reasoning: str | None = None
    thinking: tuple[ThinkingBlock, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    prefix: bool = False

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", text)

    @classmethod
    def user(cls, text: str, **meta: Any) -> Message:
        return cls("user", text, meta=dict(meta))

    @classmethod
    def assistant_prefix(cls, text: str, reasoning: str | None = None, **meta: Any) -> Message:
        """The start of the assistant's answer, for the model to continue (``--prefix``);
        ``reasoning`` is the start of its thinking (thinking mode)."""
        return cls("assistant", text, reasoning=reasoning, meta=dict(meta), prefix=True)

    def as_prefix(self) -> Message:
        """This assistant answer as a prefix to continue (an answer cut at max_tokens): its
        text, reasoning and signed thinking blocks as they are."""
        if self.role != "assistant":
            raise ValueError(f"only an assistant message can be continued, not a {self.role} message")
        if self.tool_calls:
            raise ValueError("an answer that made tool calls cannot be continued")
        return replace(self, prefix=True, content=self.content or "", meta=dict(self.meta))

    @classmethod
    def tool_result(cls, call_id: str, content: str, name: str | None = None) -> Message:
        return cls("tool", content, tool_call_id=call_id, name=name)

    @classmethod
    def from_snapshot(cls, snap: TurnSnapshot, choice: int = 0, **meta: Any) -> Message:
        """The assistant message to keep in history for ``choice`` of a finished response."""
        ch = snap.choices.get(choice) or snap.choice(0)
        calls = tuple(ch.ordered_tool_calls())
        reasoning: str | None = ch.reasoning if ch.has_reasoning else None
        if calls and reasoning is None:
            reasoning = ""
        thinking = tuple(ch.thinking_blocks)
        if snap.id:
            meta.setdefault("response_id", snap.id)
        return cls(
            "assistant",
            ch.text,
            reasoning=reasoning,
            thinking=thinking,
            tool_calls=calls,
            meta=dict(meta),
        )

    def to_record(self) -> dict[str, Any]:
        """A JSON-able form that :meth:`from_record` turns back into an equal message (the
        ledger stores history this way, reasoning and thinking signatures included)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if self.thinking:
            out["thinking"] = [{"text": b.text, "signature": b.signature} for b in self.thinking]
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.prefix:
            out["prefix"] = True
        meta = {k: v for k, v in self.meta.items() if isinstance(v, (str, int, float, bool)) or v is None}
        if meta:
            out["meta"] = meta
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Message:
        """The message :meth:`to_record` stored; ValueError on a record of another shape (one
        may come from a notebook file anyone wrote: every field is checked)."""
        role = record["role"]
        blocks = _objects(record, "thinking")
        if role not in ROLES:
            raise ValueError(f"a kept message has the role {role!r}")
        meta = record.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError("a kept message's meta is not an object")
        return cls(
            role,
            _text(record, "content"),
            reasoning=_text(record, "reasoning"),
            thinking=tuple(ThinkingBlock(_text(b, "text") or "", _text(b, "signature")) for b in blocks),
            tool_calls=tuple(_call(c, i) for i, c in enumerate(_objects(record, "tool_calls"))),
            tool_call_id=_text(record, "tool_call_id"),
            name=_text(record, "name"),
            meta=dict(meta),
            prefix=record.get("prefix") is True,
        )

    def to_openai(self) -> dict[str, Any]:
        """The Chat Completions form of this message."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.role == "assistant":
            if self.reasoning is not None:
                out["reasoning_content"] = self.reasoning
            if self.tool_calls:
                out["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in self.tool_calls
                ]
        elif self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
        if self.prefix:
            out["prefix"] = True
        if out["content"] is None and self.role != "assistant":
            out["content"] = ""
        return out


def answer_of(messages: Iterable[Message], default: str) -> str:
    """The text of the last assistant message (the answer a conversation goes on from), else
    ``default``."""
    texts = [m.content for m in messages if m.role == "assistant" and m.content is not None]
    return texts[-1] if texts else default


ROLES = ("system", "user", "assistant", "tool")


def _text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"a kept message's {name} is not text: {value!r}"[:120])
    return value


def _objects(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = record.get(name) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError(f"a kept message's {name} is not a list of objects")
    return items


def _call(call: dict[str, Any], position: int) -> ToolCall:
    index = call.get("index", position)
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"a kept message's tool call index is not a number: {index!r}"[:120])
    return ToolCall(index, _text(call, "id") or "", _text(call, "name") or "", _text(call, "arguments") or "")
