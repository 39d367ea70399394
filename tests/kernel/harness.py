"""A real IPython kernel (ipykernel via jupyter_client) for kernel-level tests and benchmarks."""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

from .. import markers


@dataclass
class Execution:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    iopub_bytes: int = 0
    first_output_at: float | None = None
    started: float = 0.0
    idle_at: float = 0.0
    interrupt_sent: float | None = None

    @property
    def interrupt_latency(self) -> float | None:
        """Seconds from the interrupt request to the kernel going idle."""
        return None if self.interrupt_sent is None else self.idle_at - self.interrupt_sent

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def ok(self) -> bool:
        return self.reply["content"]["status"] == "ok"

    @property
    def error_text(self) -> str:
        errs = ["\n".join(e["content"]["traceback"]) for e in self.of_type("error")]
        errs += [m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stderr"]
        return "\n".join(errs)

    def final_html(self) -> str:
        """The last text/html shown (what a saved notebook keeps)."""
        html = [
            m["content"]["data"]["text/html"]
            for m in self.of_type("display_data", "update_display_data", "execute_result")
            if "text/html" in m["content"].get("data", {})
        ]
        return html[-1] if html else ""

    def text(self) -> str:
        parts = [m["content"]["text"] for m in self.of_type("stream")]
        parts += [
            m["content"]["data"].get("text/plain", "")
            for m in self.of_type("display_data", "update_display_data", "execute_result")
        ]
        return "\n".join(parts)


class Kernel:
    def __init__(self, env: dict[str, str] | None = None, cwd: str | None = None):
        markers.require("kernel", "starts a real kernel")
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_spec  # noqa: B018 - resolve early
        kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("EVOLINK_")}
        kernel_env.update(env or {})
        kernel_env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *sys.path])
        self.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        self.km.start_kernel(env=kernel_env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(
        self,
        code: str,
        timeout: float = 60,
        interrupt_after: float | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
    ) -> Execution:
        """Run ``code``; ``on_message`` sees each of its IOPub messages as it arrives (while
        the cell runs: it may click a widget with :meth:`send_comm`)."""
        msg_id = self.kc.execute(code, store_history=True)
        started = time.monotonic()
        ex = Execution(reply={}, started=started)
        idle = False
        while not idle:
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish in {timeout}s: {code[:60]!r}")
            if (
                interrupt_after is not None
                and ex.interrupt_sent is None
                and time.monotonic() - started >= interrupt_after
            ):
                self.km.interrupt_kernel()
                ex.interrupt_sent = time.monotonic()
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.05, max(remaining, 0.01)))
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status":
                idle = msg["content"]["execution_state"] == "idle"
                ex.idle_at = time.monotonic()
                continue
            if kind in (
                "display_data",
                "update_display_data",
                "comm_msg",
                "comm_open",
                "stream",
                "execute_result",
            ):
                ex.iopub_bytes += len(json.dumps(msg["content"], default=str))
                if ex.first_output_at is None and kind != "comm_open":
                    ex.first_output_at = time.monotonic()
            msg["received_at"] = time.monotonic()
            ex.messages.append(msg)
            if on_message is not None:
                on_message(msg)
        ex.reply = self.kc.get_shell_msg(timeout=timeout)
        while ex.reply["parent_header"].get("msg_id") != msg_id:
            ex.reply = self.kc.get_shell_msg(timeout=timeout)
        return ex

    def send_comm(self, comm_id: str, data: dict[str, Any]) -> None:
        """A ``comm_msg`` from this client, as a front end sends a widget event (a click is
        ``{"method": "custom", "content": {"event": "click"}}``), with no subshell named."""
        self.kc.shell_channel.send(self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

    def kill(self) -> None:
        """SIGKILL the kernel's process, as the OS's out-of-memory killer would, and wait for it."""
        process = self.km.provisioner.process  # type: ignore[union-attr]
        process.kill()
        process.wait(timeout=10)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
