"""How a request ended, as closed sets of names, and the one table of their words (pure).

:data:`Status` is how an answer ended (a reply's status, a footer's, a ledger row's outcome
once settled); :data:`Outcome` adds ``started``, the ledger's word for a request sent but not
settled yet (or whose kernel died mid-answer), and ``cached``, an answer the answer cache gave
without a request; :data:`Origin` is where a request came from.

:data:`STATUS_WORDS` is what each status reads as, in one place: ``label``, the few words of a
banner, a history line or a chat panel entry, and ``notice``, the sentence under an answer that
ended so (None where the banner says it alone, or, for an error, the error's own line does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias, cast

__all__ = ["STATUS_WORDS", "Origin", "Outcome", "ReplyStatus", "Status", "StatusWords", "status_label"]

Status: TypeAlias = Literal[
    "ok",
    "length",
    "interrupted",
    "stopped",
    "error",
    "content_filter",
    "insufficient_system_resource",
    "aborted",
    "tool_rounds",
]
ReplyStatus: TypeAlias = Status | Literal["streaming"]  # a reply's status until it settles
# a ledger row's: "started" until the request settles; "cached" for an answer from the cache (no request)
Outcome: TypeAlias = Status | Literal["started", "cached"]
Origin: TypeAlias = Literal["cell", "panel", "api", "map"]  # a %%deepseek cell, the panel, the Python API, a map run


@dataclass(frozen=True)
class StatusWords:
    """What one status reads as: ``label`` (a few words) and ``notice`` (a sentence, or None)."""

    label: str
    notice: str | None = None


STATUS_WORDS: dict[Outcome, StatusWords] = {
    "ok": StatusWords("ok"),
    # the banner of a cut answer is worded from its usage and limit (display.render.cut_short)
    "length": StatusWords("cut at max_tokens — %deepseek continue, or raise --max-tokens"),
    "interrupted": StatusWords("Interrupted — partial answer kept", "Interrupted — the partial answer is kept."),
    "stopped": StatusWords("Stopped — partial answer kept"),
    "error": StatusWords("The request failed"),
    "content_filter": StatusWords(
        "Stopped by the content filter", "Stopped by the content filter: the answer is incomplete."
    ),
    "insufficient_system_resource": StatusWords(
        "The server ran out of resources (insufficient_system_resource) — partial answer",
        "The server ran out of inference resources (insufficient_system_resource): the answer is incomplete; "
        "try again.",
    ),
    "aborted": StatusWords("aborted", "The server aborted the answer: it is incomplete."),
    "tool_rounds": StatusWords(
        "tool rounds", "Stopped: the model kept calling tools past the round limit (max_tool_rounds)."
    ),
    "started": StatusWords("started, not settled (still answering, or its kernel stopped mid-answer)"),
    "cached": StatusWords("from the cache — no request, $0"),
}


def status_label(status: str) -> str:
    """The label of ``status``; a name outside :data:`STATUS_WORDS` (a row of another version's
    ledger) reads as itself, underscores as spaces."""
    words = cast(Mapping[str, StatusWords], STATUS_WORDS).get(status)
    return words.label if words is not None else status.replace("_", " ")
