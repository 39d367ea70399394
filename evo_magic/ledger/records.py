"""Conversions between what a request gives (:class:`~evo_magic.sessions.reply.Reply`, a session
:class:`~evo_magic.sessions.session.Turn`) and what the ledger keeps (:class:`~evo_magic.ledger.store.LedgerRow`,
:class:`~evo_magic.ledger.store.TurnRecord`), both ways: recording, and ``%deepseek restore``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.messages import answer_of
from ..core.status import Origin
from .store import LedgerRow, TurnRecord

if TYPE_CHECKING:
    from ..core.messages import Message
    from ..sessions.reply import Reply, Turn


def row_from_reply(
    reply: Reply, *, notebook: str, cost: Decimal | None, at: datetime, origin: Origin = "cell"
) -> LedgerRow:
    """The ledger row of a :class:`~evo_magic.sessions.reply.Reply`: settled (any outcome), or
    ``started`` while it still streams."""
    cell = reply.cell if isinstance(reply.cell, int) and not isinstance(reply.cell, bool) else None
    return LedgerRow(
        notebook=notebook,
        session=reply.session,
        model_requested=reply.requested_model,
        model_answered=reply.snapshot.model or None,
        protocol=reply.protocol,
        usage=reply.usage,
        cost=cost,
        outcome="started" if reply.status == "streaming" else "cached" if reply.cached else reply.status,
        at=at,
        origin=origin,
        cell=cell,
        ttft=reply.timing.ttft,
        elapsed=reply.timing.elapsed,
        error=None if reply.error is None else type(reply.error).__name__,
        response_id=reply.id,
        offline=reply.offline,
        request_key=reply.request_key,
        saved=reply.saved,
    )


def turn_from_reply(
    reply: Reply, prompt: str, messages: Sequence[Message] | None = None, cell_id: str | None = None
) -> TurnRecord:
    """The turn of a successful reply: prompt, answer (the picked choice when the messages
    say so), reasoning, tool calls, and the messages it added to the history."""
    return TurnRecord(
        prompt,
        answer_of(messages or (), reply.text),
        reply.reasoning,
        tuple(call.to_dict() for call in reply.tool_calls),
        None if messages is None else tuple(m.to_record() for m in messages),
        cell_id,
    )


def restored_turn(row: LedgerRow, record: TurnRecord) -> Turn:
    """A session :class:`~evo_magic.sessions.session.Turn` from a ledger row and its turn record."""
    from ..core.events import Finished, ReasoningDelta, ResponseStarted, TextDelta, ToolCallDelta, UsageReported
    from ..core.messages import Message
    from ..core.snapshot import accumulate
    from ..sessions.reply import Reply, Timing, Turn

    events: list[Any] = [ResponseStarted(row.response_id, row.model_answered)]
    if record.reasoning:
        events.append(ReasoningDelta(record.reasoning))
    events.append(TextDelta(record.text))
    for i, call in enumerate(record.tool_calls):
        events.append(ToolCallDelta(i, call.get("id"), call.get("name"), call.get("arguments") or ""))
    if row.usage is not None:
        events.append(UsageReported(row.usage))
    events.append(Finished("length" if row.outcome == "length" else "stop"))
    start = time.monotonic()
    timing = Timing(start, end=start + (row.elapsed or 0.0))
    if row.ttft is not None:
        timing.first_token = start + row.ttft
    reply = Reply(accumulate(events), row.model_requested, row.session, timing, protocol=row.protocol, cell=row.cell,
                  request_key=row.request_key)
    reply.status = "length" if row.outcome == "length" else "ok"  # only answers that became turns are kept
    reply.cost, reply.priced, reply.offline = row.cost, True, row.offline
    if record.messages is not None:
        messages = [Message.from_record(m) for m in record.messages]
    else:  # a turn recorded before schema 3: question and answer (with its reasoning)
        reasoning = record.reasoning or None
        messages = [Message.user(record.prompt, cell=row.cell), Message("assistant", record.text, reasoning=reasoning)]
    return Turn(record.prompt, reply, row.cell, messages, record.cell_id, row.id)
