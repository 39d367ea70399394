"""An answer's provenance read back from a saved notebook's outputs, and the marks the line
commands that change a conversation leave there (IPython surface).

:func:`read` turns the ``evo_magic`` entry of an output's metadata (written by
:mod:`evo_magic.sessions.provenance`) into a :class:`Provenance` — the answer, and the turn it
ends, as the session keeps them — or a :class:`Mark`: ``%deepseek undo``, ``reset`` and
``pick`` leave one on their output (:func:`marked`), so a conversation rebuilt from the notebook
alone (``%deepseek restore``) drops, forgets and picks as the kernel that saved it did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..core.messages import Message
from ..core.replay import answer_from_record, replayed
from ..core.snapshot import TurnSnapshot
from ..display.notices import Notice
from ..sessions.provenance import COMPLETE, KEY, SCHEMA
from ..sessions.reply import Reply, Timing, Turn

MarkKind = Literal["undo", "reset", "pick"]


class Unreadable(ValueError):
    """Provenance that is not what :func:`provenance` writes (another version, an edit)."""


@dataclass(frozen=True)
class _Entry:
    """An ``evo_magic`` metadata entry of one output: its session and when it was made."""

    record: Mapping[str, Any]

    @property
    def session(self) -> str:
        return str(self.record.get("session") or "default")

    @property
    def time(self) -> str:
        return str(self.record.get("time") or "")


@dataclass(frozen=True)
class Provenance(_Entry):
    """One answer's provenance read back from a notebook (:func:`read`)."""

    snapshot: TurnSnapshot | None = None  # the answer (None: not kept, e.g. an error)

    @property
    def key(self) -> str | None:
        value = self.record.get("request")
        return value if isinstance(value, str) and len(value) == 64 else None

    @property
    def complete(self) -> bool:
        return self.snapshot is not None and self.record.get("status") in COMPLETE

    @property
    def cell_id(self) -> str | None:
        """The front end's id of the cell whose turn this answer ends."""
        turn = self.record.get("turn")
        return _text(turn.get("cell_id")) if isinstance(turn, Mapping) else None

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


def read(metadata: object) -> Provenance | Mark | None:
    """The provenance or the mark in an output's ``metadata`` (None: no evo_magic answer or
    mark); raises :class:`Unreadable` when the ``evo_magic`` entry is there but is not ours to read."""
    if not isinstance(metadata, Mapping) or KEY not in metadata:
        return None
    record = metadata[KEY]
    if not isinstance(record, Mapping):
        return None
    if record.get("mark") in ("undo", "reset", "pick"):
        return Mark(record)
    if "request" not in record:
        return None
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


@dataclass(frozen=True)
class Mark(_Entry):
    """What ``%deepseek undo``, ``reset`` or ``pick`` did to a session, as its output keeps it."""

    @property
    def kind(self) -> MarkKind:
        kind = self.record.get("mark")
        return "undo" if kind == "undo" else "reset" if kind == "reset" else "pick"

    @property
    def request(self) -> str | None:
        """The request key of the answer the turn it names ends with."""
        value = self.record.get("request")
        return value if isinstance(value, str) else None

    @property
    def choice(self) -> int:
        value = self.record.get("choice")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


class Marked(Notice):
    """A line command's notice that also marks its output with what it did (see :class:`Mark`)."""

    def __init__(self, text: str, kind: MarkKind, session: str, *, request: str | None = None,
                 choice: int | None = None, code: tuple[str, ...] = ()) -> None:  # fmt: skip
        super().__init__(text, code=code)
        self.mark: dict[str, Any] = {"mark": kind, "session": session, "time": _now()}
        if request is not None:
            self.mark["request"] = request
        if choice is not None:
            self.mark["choice"] = choice

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {KEY: self.mark}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


__all__ = ["Mark", "MarkKind", "Marked", "Provenance", "Unreadable", "read"]
