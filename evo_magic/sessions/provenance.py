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
answer cache (:mod:`evo_magic.notebook.provenance` reads it back).

Plain JSON: it survives a save, ``jupyter nbconvert`` and papermill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol

from .._version import __version__
from ..core.messages import Message
from ..core.replay import answer_record
from ..core.snapshot import TurnSnapshot
from ..core.usage import Usage

KEY = "evo_magic"  # the output metadata's key
SCHEMA = 1  # of what :func:`provenance` writes
COMPLETE = ("ok", "length")  # the statuses of an answer worth keeping


@dataclass(frozen=True)
class Asked:
    """What one question had sent of its turn when a request went out: the prompt, the
    messages the turn adds before this request's answer (system, user, earlier rounds' calls
    and tool results) and the front end's cell id. With the answer, it is the whole turn."""

    prompt: str
    messages: tuple[Message, ...] = ()
    cell_id: str | None = None


class Answered(Protocol):
    """What the provenance reads of a settled answer (a :class:`~evo_magic.sessions.reply.Reply`)."""

    @property
    def snapshot(self) -> TurnSnapshot: ...
    @property
    def requested_model(self) -> str: ...
    @property
    def session(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def cell(self) -> Any: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def offline(self) -> bool: ...
    @property
    def request_key(self) -> str | None: ...
    @property
    def cached(self) -> bool: ...
    @property
    def saved(self) -> Decimal | None: ...
    @property
    def price_from(self) -> datetime | None: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def asked(self) -> Asked | None: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def finish_reason(self) -> str | None: ...


def _iso(at: datetime | None, timespec: str = "seconds") -> str | None:
    return None if at is None else at.astimezone(timezone.utc).isoformat(timespec=timespec)


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


def ends_turn(reply: Answered) -> bool:
    """Whether ``reply`` is the answer its question's turn ends with: complete, and not a round
    that called tools (the loop's next request answers it)."""
    return reply.status in COMPLETE and reply.finish_reason != "tool_calls"


def provenance(reply: Answered, *, now: datetime | None = None) -> dict[str, Any]:
    """The ``evo_magic`` output metadata of a settled ``reply`` (see the module doc)."""
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "version": __version__,
        "time": _iso(now or datetime.now(timezone.utc), "microseconds"),  # orders a notebook's answers
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
    if reply.status in COMPLETE:
        out["answer"] = json.loads(answer_record(reply.snapshot))
    asked = reply.asked
    if asked is not None and ends_turn(reply):
        messages = [m.to_record() for m in asked.messages]
        out["turn"] = {"prompt": asked.prompt, "cell_id": asked.cell_id, "messages": messages}
    return out


def output_metadata(reply: Answered) -> dict[str, Any]:
    """The whole output metadata of an answer: ``{"evo_magic": provenance(reply)}``."""
    return {KEY: provenance(reply)}


__all__ = ["COMPLETE", "KEY", "SCHEMA", "Answered", "Asked", "ends_turn", "output_metadata", "provenance"]
