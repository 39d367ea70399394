"""Clicks that reach the kernel while a cell runs: a kernel subshell for the Stop button (IO).

A running cell holds the kernel's main thread, and ipykernel handles the messages of widgets
(a click) on that thread — so a click on Stop would wait for the end of the run it should end.
ipykernel 7 runs *subshells* (Jupyter enhancement proposal 91): threads of the same kernel,
each with its own event loop, each handling the shell messages addressed to it.

:class:`Subshell` (a part of the kernel's root, so one per kernel) asks the kernel for one the
way a front end does: a ``create_subshell_request`` on the kernel's own control channel (the
control thread answers it while a cell runs); it is deleted when the root closes.
:func:`route_clicks` then addresses a widget's messages from the front end to that subshell —
ipykernel picks the subshell of each comm message with its comm's ``_reply_subshell_for`` — so
the widget's click handlers run in the subshell's thread, at once, while the cell runs.

Where that cannot work (ipykernel 6, a kernel that is not ipykernel, no connection file),
:func:`route_clicks` returns False and the progress view says to interrupt the kernel instead.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

FEATURE = "kernel subshells"  # in a kernel_info reply's supported_features (JEP 92)
REPLY_S = 5.0  # how long the kernel's control thread may take to answer


class Subshell:
    """The kernel subshell that handles the progress views' clicks (a root part)."""

    def __init__(self, runtime: Runtime) -> None:
        self.id: str | None = None
        self._failed = False

    def ensure(self) -> str | None:
        """The subshell's id, asked for once per kernel; None where there can be none."""
        if self.id is None and not self._failed:
            try:
                self.id = str(_control("create_subshell_request", {})["subshell_id"])
            except Exception as exc:  # no connection file, no control thread, an old kernel
                log.debug("no kernel subshell for the Stop button: %s", exc)
                self._failed = True
        return self.id

    def close(self) -> None:
        subshell, self.id = self.id, None
        if subshell is None:
            return
        try:
            _control("delete_subshell_request", {"subshell_id": subshell}, timeout=1.0)
        except Exception as exc:  # the kernel is shutting down: the subshell goes with it
            log.debug("the Stop button's subshell was not deleted: %s", exc)


def kernel() -> Any:
    """The running ipykernel's kernel object, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return getattr(get_ipython(), "kernel", None)


def supports_subshells(k: Any) -> bool:
    info = getattr(k, "kernel_info", None)
    return isinstance(info, dict) and FEATURE in info.get("supported_features", ())


def route_clicks(widget: Any, runtime: Runtime) -> bool:
    """Have the front end's messages to ``widget`` handled in the kernel's :class:`Subshell`
    (see the module docstring); False when they will wait for the running cell instead."""
    comm = getattr(widget, "comm", None)
    if comm is None or not callable(getattr(comm, "_reply_subshell_for", None)):
        return False
    if not supports_subshells(kernel()):
        return False
    subshell = runtime.part(Subshell).ensure()
    if subshell is None:
        return False

    def to_subshell(data: object, default: str | None) -> str:
        return subshell

    comm._reply_subshell_for = to_subshell
    return True


def _control(msg_type: str, content: dict[str, Any], timeout: float = REPLY_S) -> dict[str, Any]:
    """Send one request on this kernel's control channel (as a front end) and return the
    reply's content; RuntimeError when it is not ``ok``, TimeoutError without a reply."""
    from ipykernel.connect import get_connection_info
    from jupyter_client.blocking.client import BlockingKernelClient

    info = get_connection_info(unpack=True)
    if not isinstance(info, dict):  # pragma: no cover - unpack=True gives the dict
        raise TypeError("no connection information")
    client = BlockingKernelClient()
    client.load_connection_info(info)  # type: ignore[arg-type]
    client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
    try:
        request = client.session.msg(msg_type, content)
        client.control_channel.send(request)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = client.control_channel.get_msg(timeout=left)
            if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                answer: dict[str, Any] = reply["content"]
                if answer.get("status") != "ok":
                    raise RuntimeError(f"{msg_type}: {answer.get('evalue', answer.get('status'))}")
                return answer
        raise TimeoutError(f"no answer to {msg_type} within {timeout:g} s")
    finally:
        client.stop_channels()


__all__ = ["FEATURE", "Subshell", "kernel", "route_clicks", "supports_subshells"]
