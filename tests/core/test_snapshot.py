"""The fold of typed stream events into a turn snapshot (``evo_magic.core.snapshot``), as a
table: event sequences, including each protocol's quirks, and the snapshot they must give."""

from __future__ import annotations

from typing import Any

import pytest

from evo_magic import errors
from evo_magic.core.events import (
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
from evo_magic.core.snapshot import TurnSnapshot, accumulate
from evo_magic.core.usage import Usage

FAILED = errors.ProtocolError("malformed event from the server")


def fields(snap: TurnSnapshot) -> dict[str, Any]:
    """What a snapshot says, as plain values (choice 0 unless named). The choices are read first:
    reading a field of choice 0 creates it."""
    choices = {i: (c.text, c.finish_reason) for i, c in sorted(snap.choices.items())}
    return {
        "id": snap.id,
        "model": snap.model,
        "text": snap.text,
        "reasoning": snap.reasoning,
        "blocks": [(b.text, b.signature) for b in snap.choice(0).thinking_blocks],
        "calls": [(c.index, c.id, c.name, c.arguments) for c in snap.tool_calls],
        "usage": snap.usage,
        "finish": snap.finish_reason,
        "stop_sequence": snap.choice(0).stop_sequence,
        "error": snap.error,
        "phase": snap.phase,
        "complete": snap.complete,
        "choices": choices,
        "logprobs": snap.choice(0).logprobs,
        "events": snap.events,
    }


def expect(**changes: Any) -> dict[str, Any]:
    """The fields of an empty snapshot, with ``changes``."""
    return {**fields(TurnSnapshot()), **changes}


# (name, events, expected fields). Unlisted fields keep the empty snapshot's values.
FOLDS: list[tuple[str, list[Event], dict[str, Any]]] = [
    ("nothing yet", [], expect()),
    (
        "openai: a plain answer with usage at the end",
        [ResponseStarted("r1", "deepseek-v4-flash"), TextDelta("Hel"), TextDelta("lo"), Finished("stop"),
         UsageReported(Usage(10, 0, 10, 2, None))],
        expect(id="r1", model="deepseek-v4-flash", text="Hello", finish="stop", phase="answer", complete=True,
               usage=Usage(10, 0, 10, 2, None), choices={0: ("Hello", "stop")}, events=5),
    ),
    (
        "openai: reasoning_content then content; thinking phase until the first answer text",
        [ReasoningDelta("Let me "), ReasoningDelta("think.")],
        expect(reasoning="Let me think.", blocks=[("Let me think.", None)], phase="thinking",
               choices={0: ("", None)}, events=2),
    ),
    (
        "openai: an empty reasoning_content opens no thinking phase",
        [ReasoningDelta("")],
        expect(blocks=[("", None)], phase="waiting", choices={0: ("", None)}, events=1),
    ),
    (
        "openai: thinking, then the answer",
        [ReasoningDelta("hmm"), TextDelta("4"), Finished("stop")],
        expect(reasoning="hmm", blocks=[("hmm", None)], text="4", finish="stop", phase="answer", complete=True,
               choices={0: ("4", "stop")}, events=3),
    ),
    (
        "openai: tool call fragments; None id and name mean no update",
        [ToolCallDelta(0, "call_1", "weather", '{"ci'), ToolCallDelta(0, None, None, 'ty": "Oslo"}'),
         ToolCallDelta(1, "call_2", "news", ""), ToolCallDelta(1, arguments="{}"), Finished("tool_calls")],
        expect(calls=[(0, "call_1", "weather", '{"city": "Oslo"}'), (1, "call_2", "news", "{}")],
               finish="tool_calls", phase="answer", complete=True, choices={0: ("", "tool_calls")}, events=5),
    ),
    (
        "openai: tool calls are ordered by index, not by arrival",
        [ToolCallDelta(1, "call_b", "b"), ToolCallDelta(0, "call_a", "a")],
        expect(calls=[(0, "call_a", "a", ""), (1, "call_b", "b", "")], phase="answer", choices={0: ("", None)},
               events=2),
    ),
    (
        "openai: n choices fold apart; complete only when every choice finished",
        [TextDelta("a", choice=0), TextDelta("b", choice=1), TextDelta("c", choice=2), Finished("stop", choice=0),
         Finished("length", choice=2)],
        expect(text="a", finish="stop", phase="answer", choices={0: ("a", "stop"), 1: ("b", None), 2: ("c", "length")},
               events=5),
    ),
    (
        "openai: a later full usage replaces the earlier one",
        [UsageReported(Usage(5, 0, 5, 1, None)), UsageReported(Usage(9, 4, 5, 3, 2))],
        expect(usage=Usage(9, 4, 5, 3, 2), events=2),
    ),
    (
        "openai: logprobs accumulate in order",
        [LogprobsDelta(({"token": "a"},)), LogprobsDelta(({"token": "b"}, {"token": "c"}))],
        expect(logprobs=[{"token": "a"}, {"token": "b"}, {"token": "c"}], choices={0: ("", None)}, events=2),
    ),
    (
        "openai: an in-band error keeps what arrived and the turn is not complete",
        [TextDelta("par"), StreamFailed(FAILED), Finished("stop")],
        expect(text="par", error=FAILED, finish="stop", phase="answer", complete=False, choices={0: ("par", "stop")},
               events=3),
    ),
    (
        "anthropic: message_start gives id and model; a later start without them keeps them",
        [ResponseStarted("msg_1", "deepseek-v4-flash"), ResponseStarted(None, None)],
        expect(id="msg_1", model="deepseek-v4-flash", events=2),
    ),
    (
        "anthropic: input usage first, output later: partial usages merge",
        [UsageReported(Usage(20, 16, 4, 0, None), partial=True), UsageReported(Usage(0, 0, 0, 7, None), partial=True)],
        expect(usage=Usage(20, 16, 4, 7, None), events=2),
    ),
    (
        "anthropic: a partial usage with nothing before it is taken as it is",
        [UsageReported(Usage(0, 0, 0, 7, None), partial=True)],
        expect(usage=Usage(0, 0, 0, 7, None), events=1),
    ),
    (
        "anthropic: thinking blocks keep their signatures (sent in pieces), reasoning joins the blocks",
        [ReasoningDelta("first ", block=0), ReasoningDelta("", signature="sig-", block=0),
         ReasoningDelta("", signature="A", block=0), ReasoningDelta("second", block=2),
         ReasoningDelta("", signature="B", block=2), TextDelta("done"), Finished("stop", stop_sequence=None)],
        expect(reasoning="first second", blocks=[("first ", "sig-A"), ("second", "B")], text="done", finish="stop",
               phase="answer", complete=True, choices={0: ("done", "stop")}, events=7),
    ),
    (
        "anthropic: a signature-only thinking block is kept, but is no thinking phase",
        [ReasoningDelta("", signature="only-a-signature")],
        expect(blocks=[("", "only-a-signature")], phase="waiting", choices={0: ("", None)}, events=1),
    ),
    (
        "anthropic: stop_sequence names the stop string that ended the answer",
        [TextDelta("one two"), Finished("stop", stop_sequence="THE END")],
        expect(text="one two", finish="stop", stop_sequence="THE END", phase="answer", complete=True,
               choices={0: ("one two", "stop")}, events=2),
    ),
    (
        "anthropic: tool_use block then input_json_delta fragments",
        [ToolCallDelta(1, "toolu_1", "weather"), ToolCallDelta(1, arguments='{"city": '),
         ToolCallDelta(1, arguments='"Paris"}'), Finished("tool_calls")],
        expect(calls=[(1, "toolu_1", "weather", '{"city": "Paris"}')], finish="tool_calls", phase="answer",
               complete=True, choices={0: ("", "tool_calls")}, events=4),
    ),
]


@pytest.mark.parametrize("events,want", [(e, w) for _, e, w in FOLDS], ids=[name for name, _, _ in FOLDS])
def test_the_fold_gives_the_snapshot(events: list[Event], want: dict[str, Any]) -> None:
    assert fields(accumulate(events)) == want


@pytest.mark.parametrize("events", [e for _, e, _ in FOLDS], ids=[name for name, _, _ in FOLDS])
def test_folding_in_two_steps_is_folding_at_once(events: list[Event]) -> None:
    """``accumulate`` continues a snapshot: any prefix, then the rest, gives the same turn."""
    whole = fields(accumulate(events))
    for k in range(len(events) + 1):
        assert fields(accumulate(events[k:], accumulate(events[:k]))) == whole
