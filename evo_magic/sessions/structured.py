"""``schema=`` on a session's ask: the answer validated into ``reply.data``, one retry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.messages import Message
from ..core.schema import retry_message
from ..errors import ProtocolError
from .provenance import Asked
from .reply import Reply
from .request import Exchange

if TYPE_CHECKING:
    from .question import Question

log = logging.getLogger(__name__)


def validated(
    reply: Reply, exchange: Exchange, build: Callable[..., dict[str, Any]], sent: list[Message], loop: list[Message],
    q: Question,
) -> Reply:  # fmt: skip
    """``schema=``: the answer validated into ``reply.data``; an invalid one is asked again
    once with the problem (both turns join the loop's messages), then it is an error."""
    assert q.schema is not None
    checked = q.schema.validate(reply.text)
    if not checked.ok:
        log.info("the answer does not match the schema (%s); asking once more", checked.error)
        asked = [Message.from_snapshot(reply.snapshot, cell=q.cell), Message.user(retry_message(checked.error or ""))]
        loop += asked
        so_far = reply.asked  # the turn's messages so far, for the retry's provenance
        turn = None if so_far is None else Asked(so_far.prompt, (*so_far.messages, *asked), so_far.cell_id)
        reply = exchange.run(build([*sent, *asked], q.opts), cell=q.cell, views=q.views, notes=reply.notes, asked=turn)
        checked = q.schema.validate(reply.text) if reply.status == "ok" else checked
        if not checked.ok:
            err = ProtocolError(f"the answer does not match the schema, even after one retry: {checked.error}")
            err.reply = reply
            raise err
    reply.data = checked.value
    return reply


__all__ = ["validated"]
