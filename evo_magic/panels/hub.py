"""What every chat panel of a kernel shares, and the panels' own traffic (IO shell).

:class:`PanelHub` is a part of the kernel's root (``runtime.part(PanelHub)``): the open panels,
per session the question streaming now (:class:`~evo_magic.panels.render.Asking`) and the
partial answers kept (:class:`~evo_magic.panels.render.Partial`). It listens to the session
events once for all panels and tells each panel what concerns it; what only panels care about
(a question started, a live block added, a partial answer kept) goes from the hub to the
panels directly, never through the session events.

:func:`answer` runs a panel's question in its background thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..core.events import assert_never
from ..errors import EvoMagicError
from ..sessions.host import (
    AnswerEnded,
    NoticeRaised,
    RequestSettled,
    SessionCreated,
    SessionEvent,
    SessionRef,
    SessionReset,
    TurnAdded,
    TurnDropped,
    TurnPicked,
    TurnsRestored,
)
from .render import STOPPED, Asking, Partial

if TYPE_CHECKING:
    from ..core.options import RequestOptions
    from ..runtime import Runtime
    from ..sessions.session import Session

log = logging.getLogger(__name__)

#: What a panel hears: the session list changed; its transcript changed; its session's question
#: ended (a turn, or not); a request settled (the footer's last answer); a notice to show.
Change = Literal["sessions", "transcript", "answered", "settled", "notice"]


class Panel(Protocol):
    """What the hub needs of a panel (a :class:`~evo_magic.panels.panel.ChatPanel`)."""

    @property
    def session(self) -> Session: ...

    def hear(self, change: Change, payload: Any = None) -> None: ...

    def close(self) -> None: ...


class PanelHub:
    """The kernel's panels and the state they share (see the module doc)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.panels: list[Panel] = []
        self.asking: dict[str, Asking] = {}
        self.partials: dict[str, list[Partial]] = {}
        runtime.listeners.append(self.on_event)

    def close(self) -> None:
        for panel in list(self.panels):
            panel.close()
        if self.on_event in self.runtime.listeners:
            self.runtime.listeners.remove(self.on_event)

    # --- the session events, for every panel --------------------------------------------
    def on_event(self, event: SessionEvent) -> None:
        match event:
            case SessionCreated():
                self.tell(None, "sessions")
            case AnswerEnded(session=session):
                self.asking.pop(session.name, None)  # the panel's question became a turn (or not)
                self.tell(session, "answered")
            case RequestSettled(session=session, reply=reply):
                self.tell(session, "settled", reply)
            case NoticeRaised(session=session, text=text):
                self.tell(session, "notice", text)
            case SessionReset(session=session):
                self.partials.pop(session.name, None)
                self.tell(session, "transcript")
            case TurnPicked(session=session) | TurnDropped(session=session) | TurnsRestored(session=session):
                self.tell(session, "transcript")
            case TurnAdded():
                pass  # AnswerEnded follows and refreshes
            case _:
                assert_never(event)

    def tell(self, session: SessionRef | None, change: Change, payload: Any = None) -> None:
        """Tell the panels showing ``session`` (every panel when None) about ``change``."""
        for panel in list(self.panels):
            if session is None or panel.session is session:
                panel.hear(change, payload)

    # --- the panels' own traffic --------------------------------------------------------
    def start(self, session: Session, prompt: str) -> Asking:
        asking = self.asking[session.name] = Asking(prompt)
        self.tell(session, "transcript")
        return asking

    def add_part(self, session: Session, asking: Asking, part: Any) -> None:
        """A live answer block or a tool result joined the question streaming now."""
        asking.parts.append(part)
        self.tell(session, "transcript")

    def keep(self, session: Session, partial: Partial) -> None:
        """An answer that did not complete stays in the transcript (not in the history)."""
        self.partials.setdefault(session.name, []).append(partial)
        self.asking.pop(session.name, None)
        self.tell(session, "answered")

    def end(self, session: Session, asking: Asking) -> None:
        """The question's thread ended: close its live blocks; if it left neither a turn nor a
        partial answer (e.g. a JSON answer that never parsed), stop showing it as streaming."""
        if self.asking.get(session.name) is asking:
            self.asking.pop(session.name, None)
            self.tell(session, "answered")
        for part in [*asking.parts, asking.header]:
            if part is not None:
                part.close()


def answer(hub: PanelHub, session: Session, asking: Asking) -> None:
    """Ask ``asking`` on ``session`` (the panel's background thread): the answer streams into
    a live widget every panel on the session shows; what did not complete is kept as a
    :class:`~evo_magic.panels.render.Partial`."""
    from ..display.live import WidgetView, new_live_widget
    from ..display.notices import ToolResult
    from ..sessions.reply import Interrupted

    def view_factory(opts: RequestOptions) -> WidgetView:
        live = new_live_widget(opts.model)
        hub.add_part(session, asking, live)
        return WidgetView(live, None, keep_open=True)  # closed by hub.end, once the turn's block replaced it

    def on_tool(call: Any, result: str, ok: bool) -> None:
        import ipywidgets as w

        hub.add_part(session, asking, w.HTML(ToolResult(call, result, ok)._repr_html_()))

    after = session.turns[-1] if session.turns else None
    try:
        session.ask(asking.prompt, view_factory=view_factory, on_tool=on_tool, cell="panel")
    except Interrupted as exc:
        hub.keep(session, Partial(after, asking.prompt, exc.reply, "stopped", STOPPED))
    except EvoMagicError as exc:
        hub.keep(session, Partial(after, asking.prompt, exc.reply, "error", exc.one_line()))
    except Exception as exc:  # a bug must not kill the panel silently
        log.exception("panel: the question failed")
        hub.keep(session, Partial(after, asking.prompt, None, "error", f"{type(exc).__name__}: {exc}"))
    finally:
        hub.end(session, asking)


__all__ = ["Change", "Panel", "PanelHub", "answer"]
