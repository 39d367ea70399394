"""A JupyterLab server and headless Chromium for the browser tests (no pytest in here).

Everything is started on 127.0.0.1 in temporary directories and stopped by PID. Playwright and
JupyterLab are imported lazily, so this module imports on a machine that has neither;
:func:`missing` says why the browser tests cannot run there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"
LOOPBACK = "127.0.0.1"
KERNEL_NAME = "evo-magic-test"
WIDTH, HEIGHT = 1280, 900
WAIT = 60.0  # seconds for any single wait in the tests

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Name resolution fails for every host but loopback: nothing leaves the machine even if a
    # request slipped past the page-level route guard (e.g. a WebSocket).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


# ----------------------------------------------------------------------------- what is there
def find_chromium() -> str | None:
    """``$EVO_MAGIC_CHROMIUM``, else a ``chromium`` (Debian's package) on PATH."""
    explicit = os.environ.get("EVO_MAGIC_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab"), ("ipykernel", "ipykernel")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (python -m pip install -e '.[test]')"
    if find_chromium() is None:
        if os.environ.get("EVO_MAGIC_CHROMIUM"):
            return f"EVO_MAGIC_CHROMIUM={os.environ['EVO_MAGIC_CHROMIUM']} is not an executable file"
        return "no Chromium found: apt-get install chromium, or set EVO_MAGIC_CHROMIUM to a Chromium binary"
    return None


def panel_missing() -> str | None:
    """None when the kernel will have ``evo_magic.panel`` (the widget panel)."""
    import evo_magic

    if hasattr(evo_magic, "panel"):
        return None
    try:  # without importing it: importing a submodule would rebind evo_magic.panel
        if importlib.util.find_spec("evo_magic.panel") is not None:
            return None
    except (ImportError, ValueError):
        pass
    return "evo_magic.panel not available"


# ------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """All live descendants of ``pid``, read from /proc (empty where there is no /proc)."""
    parent: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parent.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_pids(pids: list[int], grace: float = 5.0) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace`` seconds, each PID still alive; returns those signalled."""
    running = [p for p in pids if alive(p)]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in running):
        time.sleep(0.1)
    for pid in running:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return running


# ------------------------------------------------------------------------------ JupyterLab
class Lab:
    """``jupyter lab`` on 127.0.0.1 with a free port, a random token and its own temp dirs.

    The kernelspec ``evo-magic-test`` runs ``sys.executable -m ipykernel_launcher`` with the
    repository root first on PYTHONPATH, so the kernel imports evo_magic from this checkout.
    """

    def __init__(self, base: Path, log_path: Path):
        self.root = base / "root"
        self.state = base / "state"
        self.log_path = log_path
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()
        self.env = self._environment()

    def _environment(self) -> dict[str, str]:
        s = self.state
        for sub in ("config", "runtime", "ipython", "evo_home", "data/kernels", "workspaces"):
            (s / sub).mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        settings = s / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        # No news feed and no update check: both would reach for the internet and pop a toast.
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        spec = s / "data" / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "evo_magic tests",
                    "language": "python",
                    "env": {"PYTHONPATH": pythonpath},
                    "metadata": {"debugger": False},
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVOLINK_")}
        env.update(
            JUPYTER_CONFIG_DIR=str(s / "config"),
            JUPYTER_RUNTIME_DIR=str(s / "runtime"),
            JUPYTER_PATH=str(s / "data"),  # prepended to the data path: our kernelspec
            JUPYTERLAB_SETTINGS_DIR=str(s / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(s / "workspaces"),
            IPYTHONDIR=str(s / "ipython"),
            EVO_MAGIC_HOME=str(s / "evo_home"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 120.0) -> float:
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            f"--ip={LOOPBACK}",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--NotebookNotary.db_file=:memory:",
            f"--NotebookNotary.secret_file={self.state / 'notebook_secret'}",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        started = time.monotonic()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root, start_new_session=True
        )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; see {self.log_path}")
            try:
                self.api("/api/status", timeout=2)
                return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.2)

    def api(self, path: str, method: str = "GET", timeout: float = 10.0) -> Any:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.port}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in ("POST", "PUT") else None,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace (``reset``: no tabs restored from earlier tests)."""
        return f"http://{LOOPBACK}:{self.port}/lab/tree/{notebook}?reset&token={self.token}"

    def remember_children(self) -> None:
        """Note the kernels' PIDs (and theirs) while they run, to stop them by PID later."""
        if self.proc is not None and self.proc.poll() is None:
            self.pids.update(children_of(self.proc.pid))

    def shutdown_sessions(self, path: str | None = None) -> int:
        """Delete the sessions (of ``path``, or all): their kernels shut down. Returns how many."""
        self.remember_children()
        n = 0
        for s in self.api("/api/sessions") or []:
            if path is None or s.get("path") == path:
                self.api(f"/api/sessions/{s['id']}", method="DELETE", timeout=20)
                n += 1
        return n

    def stop(self) -> list[int]:
        """Stop the kernels and the server; returns the PIDs that had to be signalled."""
        if self.proc is None:
            return []
        self.remember_children()
        signalled: list[int] = []
        if self.proc.poll() is None:
            try:
                self.shutdown_sessions()
                self.api("/api/shutdown", method="POST")
            except (urllib.error.URLError, OSError):
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                signalled += stop_pids([self.proc.pid])
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
        signalled += stop_pids(sorted(self.pids))
        self._log.close()
        return signalled


def write_notebook(path: Path, sources: list[str]) -> int:
    """A notebook of code cells on the test kernelspec; returns the number of cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "evo_magic tests", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return len(sources)


# ---------------------------------------------------------------------------------- page
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"

_JS_STATE = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const nb = panel && panel.querySelector('.jp-Notebook');
  if (!nb) return null;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const kernel = panel.querySelector('.jp-KernelName');
  const status = [...document.querySelectorAll('.jp-StatusBar-TextItem')]
      .map(e => e.textContent.trim()).find(t => / \\| /.test(t)) || '';
  return {
    cells: nb.querySelectorAll('.jp-Cell').length,
    prompts: [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim()),
    indicator: indicator ? indicator.dataset.status : null,
    status,
    kernel: kernel ? kernel.textContent.trim() : null,
    dialog: !!document.querySelector('.jp-Dialog'),
  };
}"""

_JS_CONTENT_HEIGHT = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const scroller = nb.querySelector('.jp-WindowedPanel-outer') || nb;
  scroller.scrollTop = 0;
  const cells = nb.querySelectorAll('.jp-Cell');
  const last = cells[cells.length - 1];
  const top = scroller.getBoundingClientRect().top;
  const content = last ? last.getBoundingClientRect().bottom - top + 24 : scroller.scrollHeight;
  return {content: Math.ceil(Math.min(content, scroller.scrollHeight)), visible: scroller.clientHeight};
}"""


def state(page: Any) -> dict[str, Any] | None:
    return page.evaluate(_JS_STATE)  # type: ignore[no-any-return]


def idle(s: dict[str, Any] | None) -> bool:
    """The kernel is idle: indicator, status bar (not still "Initializing") and a kernel name."""
    return bool(
        s
        and s["indicator"] == "idle"
        and s["status"].endswith("| Idle")
        and s["kernel"] not in (None, "", "No Kernel")
    )


def wait_until(page: Any, check: Any, what: str, timeout: float = WAIT, poll: float = 0.1) -> Any:
    """Poll ``check()`` until it returns something truthy; TimeoutError says what and the last state."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; page state: {state(page)}")
        page.wait_for_timeout(poll * 1000)


def open_notebook(page: Any, lab: Lab, name: str, cells: int) -> None:
    """Open the notebook, wait until every cell is in the DOM and the kernel is idle."""
    page.goto(lab.url(name), wait_until="domcontentloaded")

    def ready() -> bool:
        s = state(page)
        if s and s["dialog"]:  # e.g. "Select Kernel": accept the default
            page.locator(".jp-Dialog .jp-mod-accept").first.click()
            return False
        return bool(s and s["cells"] >= cells and idle(s))

    wait_until(page, ready, f"{name}: {cells} cells and an idle kernel", timeout=90)
    lab.remember_children()
    # Fold the left sidebar so screenshots show the notebook only.
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()


def click_menu(page: Any, menu: str, command: str) -> None:
    page.locator(f".lm-MenuBar-itemLabel:text-is('{menu}')").click()
    page.locator(f".lm-Menu-item[data-command='{command}']").click()


def click_menu_path(page: Any, labels: list[str]) -> None:
    """A menu bar item, then submenus by label: ``["Settings", "Theme", "JupyterLab Dark"]``."""
    page.locator(f".lm-MenuBar-itemLabel:text-is('{labels[0]}')").click()
    for label in labels[1:-1]:
        page.locator(f".lm-Menu-itemLabel:text-is('{label}')").last.hover()
    page.locator(f".lm-Menu-itemLabel:text-is('{labels[-1]}')").last.click()


def set_theme(page: Any, name: str, light: bool) -> None:
    """Settings > Theme > ``name``; waits until the page says it is light (or dark) and the
    theme's stylesheet applies."""
    click_menu_path(page, ["Settings", "Theme", name])
    want = "true" if light else "false"
    wait_until(page, lambda: page.evaluate("() => document.body.dataset.jpThemeLight") == want, name)
    page.wait_for_timeout(800)


def run_all(page: Any, lab: Lab, timeout: float = 120.0) -> float:
    """Run > Run All Cells on a fresh notebook; waits until every code cell has a number and
    the kernel is idle. Returns the seconds it took."""
    started = time.monotonic()
    click_menu(page, "Run", "runmenu:run-all")

    def done() -> bool:
        s = state(page)
        return bool(s and idle(s) and s["prompts"] and all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]))

    wait_until(page, done, "Run All to finish", timeout=timeout)
    lab.remember_children()
    page.wait_for_timeout(500)  # let the last display updates render
    return time.monotonic() - started


def cell(page: Any, index: int) -> Any:
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)


def problems(page: Any) -> dict[str, list[str]]:
    """What a user would see as broken: widget errors and error/stderr outputs."""
    nb = page.locator(NOTEBOOK)
    text = nb.inner_text()
    errors = page.locator(
        f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()
    return {
        "widget_errors": [line for line in text.splitlines() if "Error displaying widget" in line],
        "error_outputs": [t[:2000] for t in errors],
    }


def screenshot(page: Any, path: Path) -> Path:
    """The whole notebook: the page does not scroll (the notebook scrolls inside its own
    panel), so grow the viewport to the notebook's height, shoot, and shrink it back."""
    dims = page.evaluate(_JS_CONTENT_HEIGHT)
    extra = max(0, dims["content"] - dims["visible"])
    page.set_viewport_size({"width": WIDTH, "height": min(HEIGHT + extra + 20, 16000)})
    page.wait_for_timeout(500)  # relayout, and paint of content-visibility cells
    page.evaluate(_JS_CONTENT_HEIGHT)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return path


def open_thinking_while_it_streams(page: Any, live: Any) -> Any:
    """Wait until the live answer (``.evo-live``) streams its answer (its thinking then folds)
    and open the thinking as a reader does; returns the ``<details>``."""
    answer = live.locator(".evo-answer")
    wait_until(
        page, lambda: live.count() == 1 and answer.inner_text().strip() != "",
        "the answer to start streaming", timeout=60,
    )  # fmt: skip
    details = live.locator("details.evo-thinking")
    if details.evaluate("d => d.open") is not False:
        raise AssertionError("the live view should fold the thinking when the answer starts")
    details.locator("summary").click()
    if details.evaluate("d => d.open") is not True:
        raise AssertionError("a click on the summary should open the thinking")
    return details
