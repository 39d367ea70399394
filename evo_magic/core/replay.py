"""An answer as data that can be kept and replayed, and the key of the request it answers (pure).

Two things the request-keyed answer store (:mod:`evo_magic.ledger.answers`) needs, shared by
``evo_magic.map`` (a row already answered is not asked again) and the cell cache (a re-run cell
answered from the store):

* :func:`request_key` — the SHA-256 of the exact request: its protocol, its path and its body,
  every field in a canonical order, **without** the stream flags (``stream``,
  ``stream_options``: a streamed and a non-streamed request get the same answer). The API key
  travels in a header, never in the body, so it is never part of the key. Any other change —
  one option, one byte of one message, a tool schema, the echoed reasoning or a thinking
  signature — is another key.
* :func:`answer_events` / :func:`answer_record` / :func:`answer_from_record` — a finished
  :class:`~evo_magic.core.snapshot.TurnSnapshot` as the short list of events that rebuilds it
  (one text per choice, one reasoning per thinking block with its signature, one delta per tool
  call, the logprobs, the usage, the finish), and that list as JSON and back. Folding the
  replayed events gives a snapshot equal to the original in everything a renderer, the history
  or the ledger reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .events import (
    Event,
    Finished,
    LogprobsDelta,
    ReasoningDelta,
    ResponseStarted,
    TextDelta,
    ToolCallDelta,
    UsageReported,
)
from .snapshot import TurnSnapshot
from .usage import Usage

#: Body fields that change how an answer travels, not what it is.
STREAM_FIELDS = frozenset({"stream", "stream_options"})


def request_key(protocol: str, path: str, body: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of the exact request, stream flags left out (see the module doc)."""
    exact = {k: v for k, v in body.items() if k not in STREAM_FIELDS}
    text = json.dumps(
        {"protocol": protocol, "path": path, "body": exact},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def answer_events(snap: TurnSnapshot) -> list[Event]:
    """The fewest events that fold into a snapshot equal to ``snap`` (its error aside)."""
    events: list[Event] = [ResponseStarted(snap.id, snap.model)]
    for index in sorted(snap.choices):
        choice = snap.choices[index]
        for block, thinking in enumerate(choice.thinking_blocks):
            events.append(ReasoningDelta(thinking.text, thinking.signature, block=block, choice=index))
        if choice.text:
            events.append(TextDelta(choice.text, index))
        for call in choice.ordered_tool_calls():
            events.append(ToolCallDelta(call.index, call.id, call.name, call.arguments, choice=index))
        if choice.logprobs:
            events.append(LogprobsDelta(tuple(choice.logprobs), index))
        if choice.finish_reason:
            events.append(Finished(choice.finish_reason, index, choice.stop_sequence))
    if snap.usage is not None:
        events.append(UsageReported(snap.usage))
    return events


def _event_record(event: Event) -> dict[str, Any]:
    match event:
        case ResponseStarted(id=rid, model=model):
            return {"t": "start", "id": rid, "model": model}
        case TextDelta(text=text, choice=c):
            return {"t": "text", "text": text, "c": c}
        case ReasoningDelta(text=text, signature=sig, block=b, choice=c):
            return {"t": "reasoning", "text": text, "sig": sig, "b": b, "c": c}
        case ToolCallDelta(index=i, id=cid, name=name, arguments=args, choice=c):
            return {"t": "tool", "i": i, "id": cid, "name": name, "args": args, "c": c}
        case LogprobsDelta(content=content, choice=c):
            return {"t": "logprobs", "content": list(content), "c": c}
        case UsageReported(usage=u):
            return {"t": "usage", "usage": [u.prompt_tokens, u.cache_hit_tokens, u.cache_miss_tokens,
                                            u.completion_tokens, u.reasoning_tokens]}  # fmt: skip
        case Finished(reason=reason, choice=c, stop_sequence=seq):
            return {"t": "finish", "reason": reason, "c": c, "seq": seq}
    raise ValueError(f"{type(event).__name__} is not part of a kept answer")


def _from_record(record: object) -> Event:
    """The event a record of :func:`_event_record` keeps; ValueError on anything else (a kept
    answer may come from a notebook file anyone wrote: every field is checked)."""
    if not isinstance(record, Mapping):
        raise ValueError(f"not a kept answer's event: {record!r}")
    kind, c = record.get("t"), _count(record.get("c"))
    if kind == "start":
        return ResponseStarted(_text(record.get("id")), _text(record.get("model")))
    if kind == "text":
        return TextDelta(_text(record.get("text"), required=True) or "", c)
    if kind == "reasoning":
        text = _text(record.get("text"), required=True) or ""
        return ReasoningDelta(text, _text(record.get("sig")), block=_count(record.get("b")), choice=c)
    if kind == "tool":
        args = _text(record.get("args")) or ""
        return ToolCallDelta(_count(record.get("i"), required=True), _text(record.get("id")),
                             _text(record.get("name")), args, c)  # fmt: skip
    if kind == "logprobs":
        content = record.get("content") or []
        if not isinstance(content, list):
            raise ValueError("a kept answer's logprobs are a list")
        return LogprobsDelta(tuple(content), c)
    if kind == "usage":
        tokens = record.get("usage")
        if not isinstance(tokens, list) or len(tokens) != 5:
            raise ValueError("a kept answer's usage is a list of five token counts")
        prompt, hit, miss, completion = (_count(n, required=True) for n in tokens[:4])
        reasoning = None if tokens[4] is None else _count(tokens[4])
        return UsageReported(Usage(prompt, hit, miss, completion, reasoning))
    if kind == "finish":
        return Finished(_text(record.get("reason"), required=True) or "", c, _text(record.get("seq")))
    raise ValueError(f"not a kept answer's event: {record!r}")


def _count(value: object, *, required: bool = False) -> int:
    """A whole number, 0 or more (None: 0 unless ``required``); ValueError otherwise."""
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a kept answer holds {value!r} where a count goes")
    return value


def _text(value: object, *, required: bool = False) -> str | None:
    """A string (None unless ``required``); ValueError otherwise."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a kept answer holds {value!r} where text goes")
    return value


def answer_record(snap: TurnSnapshot) -> str:
    """``snap`` as JSON text (what the store keeps)."""
    return json.dumps([_event_record(e) for e in answer_events(snap)], ensure_ascii=False, separators=(",", ":"))


def answer_from_record(text: str) -> list[Event]:
    """The events :func:`answer_record` kept; raises ValueError on text it did not write."""
    records = json.loads(text)
    if not isinstance(records, list):
        raise ValueError("a kept answer is a JSON list of events")
    return [_from_record(r) for r in records]


def replayed(events: Sequence[Event]) -> TurnSnapshot:
    """A snapshot folded from kept events."""
    snap = TurnSnapshot()
    for event in events:
        snap.apply(event)
    return snap


__all__ = ["STREAM_FIELDS", "answer_events", "answer_from_record", "answer_record", "replayed", "request_key"]
