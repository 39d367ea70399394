"""Where an answer came from, as the output metadata a notebook keeps, and back (pure).

Every answer's output carries, under its metadata's ``evo_magic`` key (:func:`provenance`):
the request's hash (:func:`~evo_magic.core.replay.request_key`, never the API key, which is
in no request body), the model asked and the model that answered, the protocol, the tokens
(cache hits, reasoning), the cost and the date of the price-table entry that priced it,
whether it came from the cache (and what that saved, and when it was first answered), the
status, the evo_magic version and the time. It also carries what a notebook needs to stand on
its own: the answer's events (:func:`~evo_magic.core.replay.answer_record`, for a complete
answer), and on the answer that ends a turn the turn itself — its prompt, its cell and the
messages it added before the answer (reasoning and thinking signatures included, as
:meth:`~evo_magic.core.messages.Message.to_record` keeps them). With those,
``%deepseek restore`` rebuilds a conversation from the notebook file alone and refills the
answer cache (:func:`read`, :class:`Provenance`).

Plain JSON: it survives a save, ``jupyter nbconvert`` and papermill.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from .._version import __version__
from ..core.messages import Message
from ..core.replay import answer_from_record, answer_record, replayed
from ..core.snapshot import TurnSnapshot
from ..core.usage import Usage
from .reply import Reply, Timing, Turn

KEY = "evo_magic"  # the output metadata's key
SCHEMA = 1  # of what :func:`provenance` writes
_COMPLETE = ("ok", "length")


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(timezone.utc).isoformat(timespec="seconds")


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:f}"


def _tokens(usage: Usage | None) -> dict[str, int | None] | None:
    if usage is None:
        return None
    return {
        "prompt": usage.prompt_tokens,
        "cache_hit": usage.cache_hit_tokens,
        "cache_miss": usage.cache_miss_tokens,
        "completion": usage.completion_tokens,
        "reasoning": usage.reasoning_tokens,
    }


def ends_turn(reply: Reply) -> bool:
    """Whether ``reply`` is the answer its question's turn ends with: complete, and not a round
    that called tools (the loop's next request answers it)."""
    return reply.status in _COMPLETE and reply.finish_reason != "tool_calls"


def provenance(reply: Reply, *, now: datetime | None = None) -> dict[str, Any]:
    """The ``evo_magic`` output metadata of a settled ``reply`` (see the module doc)."""
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "version": __version__,
        "time": _iso(now or datetime.now(timezone.utc)),
        "request": reply.request_key,
        "protocol": reply.protocol,
        "model_requested": reply.requested_model,
        "model_answered": reply.snapshot.model,
        "status": reply.status,
        "tokens": _tokens(reply.usage),
        "cost": _money(reply.cost),
        "price_from": _iso(reply.price_from),
        "cached": reply.cached,
        "session": reply.session,
    }
    if reply.cached:
        out["saved"], out["answered_at"] = _money(reply.saved), _iso(reply.answered_at)
    if reply.offline:
        out["offline"] = True  # the bundled emulator answered: the cost was billed to nobody
    if isinstance(reply.cell, int) and not isinstance(reply.cell, bool):
        out["cell"] = reply.cell
    if reply.status in _COMPLETE:
        out["answer"] = json.loads(answer_record(reply.snapshot))
    asked = reply.asked
    if asked is not None and ends_turn(reply):
        messages = [m.to_record() for m in asked.messages]
        out["turn"] = {"prompt": asked.prompt, "cell_id": asked.cell_id, "messages": messages}
    return out


def output_metadata(reply: Reply) -> dict[str, Any]:
    """The whole output metadata of an answer: ``{"evo_magic": provenance(reply)}``."""
    return {KEY: provenance(reply)}


class Unreadable(ValueError):
    """Provenance that is not what :func:`provenance` writes (another version, an edit)."""


@dataclass(frozen=True)
class Provenance:
    """One answer's provenance read back from a notebook (:func:`read`)."""

    record: Mapping[str, Any]
    snapshot: TurnSnapshot | None  # the answer (None: not kept, e.g. an error)

    @property
    def key(self) -> str | None:
        value = self.record.get("request")
        return value if isinstance(value, str) and len(value) == 64 else None

    @property
    def session(self) -> str:
        return str(self.record.get("session") or "default")

    @property
    def time(self) -> str:
        return str(self.record.get("time") or "")

    @property
    def complete(self) -> bool:
        return self.snapshot is not None and self.record.get("status") in _COMPLETE

    @property
    def has_turn(self) -> bool:
        return isinstance(self.record.get("turn"), Mapping)

    @property
    def cost(self) -> Decimal | None:
        return _decimal(self.record.get("saved") if self.record.get("cached") else self.record.get("cost"))

    @property
    def at(self) -> datetime | None:
        """When the answer was first given."""
        raw = self.record.get("answered_at") if self.record.get("cached") else self.record.get("time")
        try:
            return datetime.fromisoformat(str(raw)) if raw else None
        except ValueError:
            return None

    def turn(self, choice: int = 0) -> Turn:
        """The turn this answer ends, as the session keeps it; :class:`Unreadable` when the
        output carries no turn or its messages cannot be read."""
        turn = self.record.get("turn")
        if not isinstance(turn, Mapping) or self.snapshot is None:
            raise Unreadable("it carries no turn")
        records = turn.get("messages")
        if not isinstance(records, list) or not records:
            raise Unreadable("its turn has no messages")
        try:
            messages = [Message.from_record(r) for r in records]
        except (KeyError, TypeError, AttributeError, ValueError):
            raise Unreadable("its turn's messages cannot be read") from None
        cell = self.record.get("cell")
        cell = cell if isinstance(cell, int) and not isinstance(cell, bool) else None
        snap = self.snapshot
        messages.append(Message.from_snapshot(snap, choice=choice if choice in snap.choices else 0, cell=cell))
        return Turn(str(turn.get("prompt") or ""), self._reply(cell), cell, messages, _text(turn.get("cell_id")))

    def _reply(self, cell: int | None) -> Reply:
        assert self.snapshot is not None
        start = time.monotonic()
        reply = Reply(
            self.snapshot,
            str(self.record.get("model_requested") or self.snapshot.model or ""),
            self.session,
            Timing(start, end=start),
            protocol=str(self.record.get("protocol") or "openai"),
            cell=cell,
            request_key=self.key,
        )
        reply.status = "length" if self.record.get("status") == "length" else "ok"
        reply.cost, reply.priced = _decimal(self.record.get("cost")), True
        reply.cached = self.record.get("cached") is True
        reply.saved = _decimal(self.record.get("saved"))
        return reply


def read(metadata: object) -> Provenance | None:
    """The provenance in an output's ``metadata`` (None: not an evo_magic answer); raises
    :class:`Unreadable` when the ``evo_magic`` entry is there but is not ours to read."""
    if not isinstance(metadata, Mapping) or KEY not in metadata:
        return None
    record = metadata[KEY]
    if not isinstance(record, Mapping) or "request" not in record:
        return None  # another evo_magic output (a notice's marks): not an answer
    if record.get("schema") != SCHEMA:
        raise Unreadable(f"its provenance is schema {record.get('schema')!r}, not {SCHEMA}")
    answer = record.get("answer")
    snapshot = None
    if isinstance(answer, list):
        try:
            snapshot = replayed(answer_from_record(json.dumps(answer)))
        except (KeyError, TypeError, ValueError):
            raise Unreadable("its answer's events cannot be read") from None
    return Provenance(record, snapshot)


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["KEY", "SCHEMA", "Provenance", "Unreadable", "ends_turn", "output_metadata", "provenance", "read"]
