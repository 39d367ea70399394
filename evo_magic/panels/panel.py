"""The widget chat panel: ``%deepseek panel`` / ``evo_magic.panel()`` (IO shell, ipywidgets).

The panel talks through the kernel's shared :class:`~evo_magic.sessions.session.Session`, so a
question asked here is context for the next ``%%deepseek`` cell and the other way round.

* **Transcript**: one block per turn of the session (the question, then the answer rendered
  exactly as in a cell: markdown, folded thinking, tool calls, footer), rebuilt from the
  session's turns whenever the session events report a change (an answer, a pick, an undo,
  a reset, a restore), from a cell, the Python API or another panel. Unchanged turns keep
  their widgets, so a ``<details>`` the reader opened stays open.
* **Streaming** runs in a background thread, so the kernel keeps running cells; the answer
  streams into the same anywidget as a cell's live view (``live.py``, coalesced to ~10
  messages per second). Every panel on the session shows that same live widget, so two
  panels stay in step while it streams too.
* **Stop** cancels the stream at once (:meth:`Session.cancel`); the partial answer stays in
  the transcript, marked "Stopped", and (as for an interrupted cell) is not sent as context.
* **Snapshot**: displaying the panel also displays a plain HTML snapshot of the conversation,
  updated after every turn, which a saved notebook keeps. A small stylesheet in it hides
  the snapshot while the live panel shows and hides the dead widget box (JupyterLab's "Error
  displaying widget: model not found") once the notebook is reopened without a kernel; nbconvert
  drops widget views without saved state, so an export shows the snapshot.

Requests from the panel are recorded in the usage ledger with origin "panel".
"""

from __future__ import annotations

import contextlib
import logging
import threading
from html import escape
from typing import TYPE_CHECKING, Any

from ..core.options import MODELS, PROTOCOLS
from ..display.render import footer_text
from ..errors import EvoMagicError
from .hub import Change, PanelHub, answer
from .render import (
    Asking,
    Entry,
    entries,
    rows,
    snapshot_html,
    snapshot_text,
)
from .widgets import empty_html, entry_widget, input_class, notebook_cost, user_html

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..sessions.reply import Reply
    from ..sessions.session import Session

log = logging.getLogger(__name__)
BUSY = "Still answering: press Stop, or wait for the answer."



class ChatPanel:
    """The chat panel (see the module doc). ``widget`` is the ipywidgets root."""

    def __init__(self, session: str | None = None, *, runtime: Runtime | None = None):
        from ..runtime import root

        self._runtime = runtime or root()
        self._hub = self._runtime.part(PanelHub)
        self._registry = self._runtime.registry
        self.session: Session = self._registry.get(session)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cache: dict[int, tuple[Any, Any]] = {}  # id(turn or partial) -> (object, widget)
        self._handles: list[Any] = []  # display handles of the snapshot
        self._syncing = False
        self.closed = False
        self.last_reply: Reply | None = None
        self._notes: list[str] = []  # budget warnings, "still answering", …: until the next question
        self._submitting = False  # Send was clicked: the first front end to answer sends its text
        self._build()
        self._wire()
        self._hub.panels.append(self)
        self._sync_pickers()
        self.refresh()

    def _build(self) -> None:
        """The widgets: the bar of pickers, the scrolling transcript, the input, Send / Stop, the footer."""
        import ipywidgets as w

        def picker(cls: Any, css: str, **kw: Any) -> Any:
            widget = cls(layout=w.Layout(width="auto"), **kw)
            widget.add_class(css)
            return widget

        self.session_picker = picker(w.Dropdown, "evo-panel-session", description="Session")
        self.new_button = picker(w.Button, "evo-panel-new", description="New", tooltip="Start a new session")
        self.reset_button = picker(w.Button, "evo-panel-reset", description="Reset", tooltip="Forget this session")
        self.model_picker = picker(w.Dropdown, "evo-panel-model", options=list(MODELS), description="Model")
        self.thinking_box = picker(w.Checkbox, "evo-panel-thinking", description="Thinking", indent=False)
        self.protocol_picker = picker(w.Dropdown, "evo-panel-protocol", options=list(PROTOCOLS), description="API")
        for dropdown in (self.session_picker, self.model_picker, self.protocol_picker):
            dropdown.style.description_width = "initial"
        self.transcript = w.VBox(layout=w.Layout(width="100%"))
        self.transcript.add_class("evo-panel-transcript")
        scroll = w.Box([self.transcript])
        scroll.add_class("evo-panel-scroll")
        self.input = input_class()()
        self.input.add_class("evo-panel-input")
        self.send_button = picker(w.Button, "evo-panel-send", description="Send", button_style="primary")
        self.stop_button = picker(w.Button, "evo-panel-stop", description="Stop", disabled=True)
        self.footer = w.HTML()
        self.footer.add_class("evo-panel-footer")
        pickers = [self.session_picker, self.new_button, self.reset_button]
        bar = w.HBox([*pickers, self.model_picker, self.thinking_box, self.protocol_picker])
        bar.add_class("evo-panel-bar")
        actions = w.HBox([self.send_button, self.stop_button])
        actions.add_class("evo-panel-actions")
        self.widget = w.VBox([bar, scroll, self.input, actions, self.footer])
        self.widget.add_class("evo-panel")
        self._own = [self.widget, bar, scroll, self.transcript, actions, self.input, self.footer]
        self._own += [*bar.children, self.send_button, self.stop_button]

    def _wire(self) -> None:
        """What each widget does."""
        self.send_button.on_click(self._on_send_click)
        self.stop_button.on_click(lambda _: self.stop())
        self.new_button.on_click(lambda _: self.new_session())
        self.reset_button.on_click(lambda _: self.reset())
        self.input.on_msg(self._on_input_msg)
        self.session_picker.observe(self._on_session_pick, "value")
        for name, widget in (("model", self.model_picker), ("thinking", self.thinking_box)):
            widget.observe(lambda change, name=name: self._on_setting(name, change["new"]), "value")
        self.protocol_picker.observe(lambda change: self._on_setting("protocol", change["new"]), "value")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "streaming" if self.busy else "idle"
        return f"<evo_magic ChatPanel on session {self.session.name!r}: {len(self.session.turns)} turns, {state}>"

    # --- display ------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.closed:
            display(self._snapshot_bundle(), raw=True)
            return
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"evo_magic chat panel on session {self.session.name!r} (needs a running kernel)"
        display(bundle, raw=True)
        self._handles.append(display(self._snapshot_bundle(), raw=True, display_id=True))

    def _snapshot_bundle(self) -> dict[str, str]:
        return {"text/html": self.snapshot_html(), "text/plain": self.snapshot_text()}

    # --- actions ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while this panel's question streams."""
        return self._thread is not None and self._thread.is_alive()

    def send(self, text: str, *, wait: bool = False) -> bool:
        """Ask ``text`` on the panel's session in a background thread (``wait``: until done).
        Returns False (and keeps the text) when empty, closed or already answering."""
        if self.closed or not text or not text.strip():
            return False
        if self.busy or self.session.name in self._hub.asking:
            self._note(BUSY)
            return False
        self.input.value = ""
        self._notes.clear()
        asking = self._hub.start(self.session, text)
        self._thread = threading.Thread(
            target=answer, args=(self._hub, self.session, asking), name="evo-panel", daemon=True
        )
        self.stop_button.disabled = False
        self._thread.start()
        if wait:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the question in flight (if any) is answered or stopped."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def stop(self) -> bool:
        """Stop the answer streaming on this panel's session; the partial answer is kept."""
        return self.session.cancel()

    def switch(self, name: str) -> None:
        """Show (and ask on) session ``name`` (created when new)."""
        if name == self.session.name:
            return
        self.session = self._registry.get(name)
        self._sync_pickers()
        self.refresh()

    def new_session(self) -> str:
        """Create a fresh session (chat, chat-2, …) and switch to it."""
        names, n = self._registry.sessions, 1
        while (name := "chat" if n == 1 else f"chat-{n}") in names:
            n += 1
        self.switch(name)
        return name

    def reset(self) -> None:
        """Forget the conversation of the panel's session (as ``%deepseek reset``)."""
        try:
            self.session.reset()
        except EvoMagicError as exc:
            self._note(exc.one_line())

    def close(self) -> None:
        """Release everything: stop a stream of this panel, unhook, close the widgets; the
        displayed snapshot keeps showing the conversation."""
        if self.closed:
            return
        if self.busy:
            self.stop()
            self.wait(5)
        self.closed = True
        with contextlib.suppress(ValueError):
            self._hub.panels.remove(self)
        self._update_snapshots()
        for _, widget in self._cache.values():
            widget.close()
        self._cache.clear()
        for widget in self._own:
            widget.close()

    # --- the transcript, as data (tests, the snapshot) ----------------------------------
    def entries(self) -> list[Entry]:
        """What the transcript shows, in order: turns, partial answers, the question streaming."""
        name = self.session.name
        return entries(list(self.session.turns), list(self._hub.partials.get(name, [])), self._hub.asking.get(name))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The transcript as plain dicts (see :func:`~evo_magic.panels.render.rows`)."""
        return rows(self.entries())

    # --- rendering ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the transcript from the session (reusing unchanged blocks) and the footer."""
        if self.closed:
            return
        import ipywidgets as w

        with self._lock:
            children, cache = [], {}
            for entry in self.entries():
                if isinstance(entry, Asking):
                    if entry.header is None:
                        entry.header = user_html(entry.prompt)
                    box = w.VBox([entry.header, *entry.parts])
                    box.add_class("evo-panel-turn")
                    box.add_class("evo-panel-streaming")
                    children.append(box)
                    cache[id(box)] = (box, box)
                    continue
                found = self._cache.get(id(entry))
                widget = found[1] if found is not None and found[0] is entry else entry_widget(entry)
                cache[id(entry)] = (entry, widget)
                children.append(widget)
            if not children:  # tracked like a block, so the next rebuild closes it
                placeholder = empty_html(self.session.name)
                children.append(placeholder)
                cache[id(placeholder)] = (placeholder, placeholder)
            stale = [wd for key, (_, wd) in self._cache.items() if key not in cache]
            self._cache = cache
            self.transcript.children = children
            for widget in stale:
                widget.close()
            self._update_footer()
        if self.session.name not in self._hub.asking:
            self._update_snapshots()

    def _update_footer(self) -> None:
        parts = [f'<span class="evo-panel-note">{escape(note)}</span>' for note in self._notes]
        reply = self.last_reply or next((t.reply for t in reversed(self.session.turns)), None)
        if reply is not None:
            parts.append(f"Last answer: {escape(footer_text(reply.footer))}")
        parts.append(escape(notebook_cost(self._runtime)))
        self.footer.value = " · ".join(parts)
        self.stop_button.disabled = self.session.name not in self._hub.asking

    def _note(self, text: str) -> None:
        """Show ``text`` in the footer until the next question."""
        if text not in self._notes:
            self._notes.append(text)
        self._update_footer()

    def snapshot_html(self) -> str:
        """The conversation as static HTML (what a saved notebook keeps in the panel's place)."""
        return snapshot_html(self.entries(), self.session.name, len(self.session.turns), notebook_cost(self._runtime))

    def snapshot_text(self) -> str:
        return snapshot_text(self.entries(), self.session.name)

    def _update_snapshots(self) -> None:
        if not self._handles:
            return
        bundle = self._snapshot_bundle()
        for handle in self._handles:
            try:
                handle.update(bundle, raw=True)
            except Exception:  # the kernel may be shutting down
                log.debug("panel snapshot update failed", exc_info=True)

    # --- callbacks ----------------------------------------------------------------------
    def _on_send_click(self, _: Any) -> None:
        # The box's text comes from its front end, not from the synced value: ipywidgets may
        # still hold the last keystrokes back, and the click would send a truncated question.
        self._submitting = True
        self.input.send({"type": "submit"})

    def _on_input_msg(self, widget: Any, content: dict[str, Any], buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "send":
            return
        if content.get("via") == "button":
            if not self._submitting:  # another view of this panel answered the click first
                return
            self._submitting = False
        text = str(content.get("text", ""))
        if not self.send(text) and text.strip():
            self.input.send({"type": "refused", "text": text})  # back into the emptied box

    def _on_session_pick(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"]:
            self.switch(change["new"])

    def _on_setting(self, name: str, value: Any) -> None:
        if self._syncing:
            return
        # a new model starts from its own thinking default (deepseek-chat never thinks)
        changes = {name: value, "thinking": None} if name == "model" else {name: value}
        try:
            self.session.configure(**changes)
        except EvoMagicError as exc:
            self._note(exc.one_line())
        if name == "model":
            self._sync_pickers()  # the Thinking box follows the model

    def _sync_pickers(self) -> None:
        self._syncing = True
        try:
            names = sorted(self._registry.sessions, key=lambda n: (n != "default", n))
            self.session_picker.options = names
            self.session_picker.value = self.session.name
            opts = self.session.options()
            models = list(MODELS) if opts.model in MODELS else [*MODELS, opts.model]
            self.model_picker.options = models
            self.model_picker.value = opts.model
            self.thinking_box.value = opts.thinking_on
            self.protocol_picker.value = opts.protocol
        finally:
            self._syncing = False

    def hear(self, change: Change, payload: Any = None) -> None:
        """What the hub tells this panel (see :data:`~evo_magic.panels.hub.Change`)."""
        if self.closed:
            return
        if change == "sessions":
            self._sync_pickers()
        elif change == "notice":  # a budget warning or a large-prompt cost, for a question asked here
            self._note(str(payload))
        elif change == "settled":
            self.last_reply = payload
        else:
            if change == "answered" and BUSY in self._notes:
                self._notes.remove(BUSY)
            self.refresh()
