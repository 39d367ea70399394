"""``%deepseek restore``: a session's conversation back from the ledger, or, when the ledger
has none of its turns (a notebook received from a colleague, another machine), from the
notebook file itself (IPython surface; reads one JSON file).

The file is the one the front end names (:mod:`evo_magic.ledger.notebook_id`: VS Code's
``__vsc_ipynb_file__``, JupyterLab's and Notebook 7's ``JPY_SESSION_NAME``, which may be
relative to the server's root, or ``EVO_MAGIC_NOTEBOOK``), or ``--from PATH``. Its answers'
provenance (:mod:`evo_magic.notebook.provenance`) is read in the order the answers were given:
each answer that ended a turn adds the turn, with its messages, reasoning and thinking
signatures; the marks of ``%deepseek undo``, ``reset`` and ``pick`` apply as they did. Every
complete answer in the file also joins the answer cache (an answer this machine holds already
stays), so the notebook's cells re-run for $0 with the cache on. When it cannot, it says
exactly why: no file named, not found, not a notebook, no evo_magic answer, a turn without
its messages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..display.notices import Notice, plural
from ..errors import EvoMagicError
from ..ledger.cache import Seed
from .provenance import Mark, Provenance, Unreadable, read

if TYPE_CHECKING:
    from ..ledger.accounting import Accounting
    from ..runtime import Runtime
    from ..sessions.reply import Turn
    from ..sessions.session import Session

FROM_HINT = "%deepseek restore --from PATH.ipynb"


class CannotRestore(EvoMagicError):
    """Why a conversation cannot be rebuilt from a notebook file (one line)."""


@dataclass
class Conversation:
    """A session's turns as a notebook tells them, and every answer it carries for the cache."""

    turns: list[tuple[Provenance, int]] = field(default_factory=list)  # each turn's answer, its picked choice
    seeds: list[Seed] = field(default_factory=list)


def notebook_file(user_ns: Mapping[str, Any] | None, given: str | None = None) -> Path:
    """The notebook file to read: ``given``, else the one the front end names; a relative name
    is looked for from the working directory up (JupyterLab's is relative to its root)."""
    from ..ledger.notebook_id import JUPYTER_VAR, OVERRIDE_VAR, VSCODE_NAME

    names = [given] if given else [(user_ns or {}).get(VSCODE_NAME), os.environ.get(JUPYTER_VAR),
                                   os.environ.get(OVERRIDE_VAR)]  # fmt: skip
    named = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    if not named:
        raise CannotRestore(
            f"no front end names this notebook's file (JupyterLab and Notebook 7 set {JUPYTER_VAR}, "
            f"VS Code {VSCODE_NAME}); name it: {FROM_HINT}"
        )
    for name in named:
        for candidate in _candidates(Path(name).expanduser()):
            if candidate.is_file():
                return candidate
    raise CannotRestore(f"{named[0]} is not found from {Path.cwd()}; save the notebook, or name it: {FROM_HINT}")


def _candidates(path: Path) -> Iterator[Path]:
    if path.is_absolute():
        yield path
        return
    here = Path.cwd()
    for folder in (here, *here.parents):
        yield folder / path
    yield here / path.name


def load(path: Path) -> list[dict[str, Any]]:
    """The cells of the notebook at ``path``; CannotRestore when it is no Jupyter notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # nested past what json reads
        reason = exc.strerror if isinstance(exc, OSError) else "not JSON"
        raise CannotRestore(f"{path.name} is not a Jupyter notebook ({reason})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise CannotRestore(f"{path.name} is not a Jupyter notebook (it has no cells)")
    return [c for c in cells if isinstance(c, dict)]


def entries(cells: list[dict[str, Any]]) -> list[tuple[str, int, Provenance | Mark]]:
    """Every answer and mark of the cells, in the order they were made: (time, cell number, entry)."""
    found = []
    for number, cell in enumerate(cells, start=1):
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else ():
            try:
                entry = read(output.get("metadata") if isinstance(output, dict) else None)
            except Unreadable as exc:
                raise CannotRestore(f"cell {number}'s answer cannot be read: {exc}") from None
            if entry is not None:
                found.append((entry.time, number, entry))
    return sorted(found, key=lambda item: item[:2])


def conversation(cells: list[dict[str, Any]], session: str) -> Conversation:
    """The turns of ``session`` as the notebook's answers and marks tell them, and its seeds."""
    out = Conversation()
    for _, number, entry in entries(cells):
        if isinstance(entry, Provenance):
            _answer(out, entry, session, number)
        elif entry.session == session:
            _mark(out, entry)
    return out


def _answer(out: Conversation, answer: Provenance, session: str, number: int) -> None:
    if answer.complete and answer.key is not None and answer.snapshot is not None:
        model = str(answer.record.get("model_answered") or answer.record.get("model_requested") or "")
        protocol = str(answer.record.get("protocol") or "openai")
        out.seeds.append(Seed(answer.key, answer.snapshot, protocol, model, answer.cost, answer.at))
    if answer.session != session or not answer.has_turn or not answer.complete:
        return
    try:
        turn = answer.turn()
    except Unreadable as exc:
        raise CannotRestore(f"cell {number}'s answer cannot be restored: {exc}") from None
    slot = next((i for i, (p, _) in enumerate(out.turns) if turn.cell_id and p.cell_id == turn.cell_id), None)
    if slot is None:
        out.turns.append((answer, 0))
    else:  # the same cell asked again: its turn takes the place of the old one, as in the kernel
        out.turns[slot] = (answer, 0)


def _mark(out: Conversation, mark: Mark) -> None:
    found = next((i for i, (p, _) in enumerate(out.turns) if p.key == mark.request), None)
    if mark.kind == "reset":
        out.turns.clear()
    elif mark.kind == "undo" and out.turns:
        out.turns.pop(len(out.turns) - 1 if found is None else found)
    elif mark.kind == "pick" and found is not None:
        out.turns[found] = (out.turns[found][0], mark.choice)


def from_notebook(acc: Accounting, session: Session, path: Path) -> tuple[list[Turn], list[Turn], int]:
    """Restore ``session`` from the notebook at ``path``: (added, superseded, answers kept)."""
    found = conversation(load(path), session.name)
    if not found.turns and not found.seeds:
        raise CannotRestore(
            f"{path.name} has no evo_magic answer of session {session.name!r} (its outputs were "
            "cleared, or saved by an evo_magic without provenance)"
        )
    from ..ledger.cache import seed
    from ..ledger.store import LedgerError

    try:
        kept = seed(acc.ledger, found.seeds)
    except LedgerError:  # the conversation comes back all the same; only the cache stays empty
        kept = 0
    held = {t.reply.request_key for t in session.turns}
    turns = [p.turn(choice) for p, choice in found.turns]
    added, superseded = session.restore(t for t in turns if t.reply.request_key not in held)
    return added, superseded, kept


def restore(runtime: Runtime, session: Session, given: str | None) -> Notice:
    """``%deepseek restore``: from the ledger, else (or with ``--from``) from the notebook file."""
    from ..ledger.notebook_id import OVERRIDE_VAR, is_fallback, short_name

    acc = runtime.accounting
    where = f"the ledger of {short_name(acc.notebook)}"
    if is_fallback(acc.notebook):
        where += f" (every unnamed notebook in this folder shares it; set {OVERRIDE_VAR} to tell them apart)"
    kept = 0
    if given is None and acc.ledger.turns(acc.notebook, session.name, dropped=True):
        added, superseded = acc.restore(session)
    else:
        try:
            path = notebook_file(acc.user_ns, given)
            added, superseded, kept = from_notebook(acc, session, path)
        except CannotRestore as exc:
            ledger = "" if given else f"{where} has none of its turns, and "
            return Notice(f"Nothing to restore for session {session.name!r}: {ledger}the notebook cannot help: "
                          f"{exc.one_line()}")  # fmt: skip
        where = f"the notebook {path.name}"
    return _restored(session, where, added, superseded, kept)


def _restored(session: Session, where: str, added: list[Turn], superseded: list[Turn], kept: int) -> Notice:
    if not added:
        held = len(session.turns)
        memory = f"; its {plural(held, 'turn')} {'is' if held == 1 else 'are'} all in memory" if held else ""
        return Notice(f"Nothing to restore for session {session.name!r} from {where}{memory}.")
    rerun = f"; {len(superseded)} superseded by cells re-run since" if superseded else ""
    messages = sum(len(t.messages) for t in session.turns)
    cache = (
        f" Its {plural(kept, 'answer')} joined the answer cache: with %deepseek cache on, its cells re-run for $0."
        if kept else ""
    )  # fmt: skip
    return Notice(
        f"Restored {plural(len(added), 'turn')} of session {session.name!r} from {where}{rerun}. The conversation "
        f"now has {plural(len(session.turns), 'turn')} ({plural(messages, 'message')}); %deepseek history lists "
        f"them.{cache}",
        code=["%deepseek history", "%deepseek cache on"],
    )


__all__ = ["FROM_HINT", "CannotRestore", "Conversation", "conversation", "from_notebook", "load", "notebook_file",
           "restore"]  # fmt: skip
