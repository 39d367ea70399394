"""evo_magic.map in a real kernel against the emulator: the progress view (a widget, updates
coalesced), its Stop button clicked while the run blocks the cell, Ctrl-C (a kernel interrupt),
the partial table both keep, and the same call again resuming with only the rows left."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import Execution, Kernel

pytestmark = pytest.mark.kernel

ROWS = 600
SETUP = f"""
import evo_magic, pandas as pd
from evo_magic.batch.run import MapInterrupted
df = pd.DataFrame({{"text": [f"ticket {{i}}: the export fails" for i in range({ROWS})]}})
OPTS = dict(model="deepseek-v4-flash", thinking=False, max_tokens=12)
"""
MAP_CELL = "%%deepseek --map df -o out --no-think --max-tokens 12 --concurrency 4\nRoute this ticket: {text}"


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    from evo_magic.emulator import Emulator

    with Emulator(latency=0.03) as e:  # 4 in flight: ~130 rows/s, a run of 600 rows lasts ~5 s
        yield e


@pytest.fixture
def kernel(emu: Any, tmp_path: Path) -> Iterator[Kernel]:
    k = Kernel({"EVOLINK_API_KEY": "sk-map-kernel-5151", "EVOLINK_BASE_URL": emu.url,
                "EVO_MAGIC_HOME": str(tmp_path / "home"), "JPY_SESSION_NAME": "/work/tickets.ipynb"})  # fmt: skip
    try:
        assert k.execute("%load_ext evo_magic").ok
        assert k.execute(SETUP).ok
        yield k
    finally:
        k.close()


def models(ex: Execution, name: str) -> list[str]:
    """The comm ids of the widgets of model ``name`` the cell opened."""
    return [m["content"]["comm_id"] for m in ex.of_type("comm_open")
            if m["content"]["data"]["state"].get("_model_name") == name]  # fmt: skip


def values(messages: list[dict[str, Any]], comm_id: str) -> list[tuple[float, Any]]:
    """(when, value) of each update of a widget's ``value``."""
    return [(m["received_at"], m["content"]["data"]["state"]["value"]) for m in messages
            if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
            and "value" in m["content"]["data"].get("state", {})]  # fmt: skip


def done(text: str) -> int:
    found = re.search(r"([\d,]+) done", text)
    return int(found.group(1).replace(",", "")) if found else 0


def summary(kernel: Kernel, expression: str = "out") -> dict[str, Any]:
    code = f"import json; s = {expression}.attrs['evo_magic']; print(json.dumps(s.as_dict(), default=str))"
    ex = kernel.execute(code)
    assert ex.ok, ex.error_text
    return json.loads(ex.text().strip().splitlines()[-1])


def test_the_progress_view_shows_and_updates_coalesced_then_says_what_the_run_did(kernel: Kernel) -> None:
    ex = kernel.execute(MAP_CELL, timeout=60)
    assert ex.ok, ex.error_text
    (html,) = models(ex, "HTMLModel")
    assert models(ex, "IntProgressModel") and models(ex, "ButtonModel")
    updates = values(ex.messages, html)
    took = updates[-1][0] - updates[0][0]
    assert took > 2 and len(updates) >= 5, updates
    assert len(updates) <= took / 0.25 + 4  # coalesced: four redraws a second, the first and the last
    counts = [done(v) for _, v in updates[:-1]]
    assert counts == sorted(counts) and 0 < counts[-2] <= ROWS and "rows/s" in updates[-2][1]
    assert f"{ROWS:,} rows: {ROWS:,} answered" in updates[-1][1]  # the last: the run's summary line
    s = summary(kernel)
    assert (s["rows"], s["answered"], s["requests"], s["left"]) == (ROWS, ROWS, ROWS, 0)


def test_stop_clicked_while_the_cell_runs_ends_the_run_within_a_second_keeping_finished_rows(
    kernel: Kernel, emu: Any
) -> None:
    clicked: list[float] = []
    state: dict[str, str] = {}

    def click_stop_at_a_third(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "comm_open":
            model = content["data"]["state"].get("_model_name")
            state[model] = content["comm_id"]
        value = content.get("data", {}).get("state", {}).get("value") if msg["msg_type"] == "comm_msg" else None
        if (not clicked and content.get("comm_id") == state.get("HTMLModel") and isinstance(value, str)
                and done(value) >= ROWS // 3):  # fmt: skip
            kernel.send_comm(state["ButtonModel"], {"method": "custom", "content": {"event": "click"}})
            clicked.append(time.monotonic())

    sent = len(emu.requests)
    ex = kernel.execute(MAP_CELL, timeout=60, on_message=click_stop_at_a_third)
    assert ex.ok, ex.error_text
    latency = ex.idle_at - clicked[0]
    print(f"Stop: the cell ended {latency:.2f} s after the click")
    assert latency < 1.0
    s = summary(kernel)
    assert s["stopped"] == "stop" and ROWS // 3 <= s["answered"] < ROWS and s["left"] == ROWS - s["answered"]
    notice = ex.text()
    assert re.search(rf"Stopped: [\d,]+ of {ROWS} rows done and kept; run the same call again", notice), notice
    first = len(emu.requests) - sent
    again = kernel.execute(MAP_CELL, timeout=60)
    assert again.ok, again.error_text
    resumed = summary(kernel)
    assert resumed["answered"] == ROWS and resumed["kept"] == s["answered"]
    assert len(emu.requests) - sent - first == ROWS - s["answered"] == resumed["requests"]


def test_ctrl_c_stops_within_a_second_with_the_partial_table_and_the_same_call_resumes(
    kernel: Kernel, emu: Any
) -> None:
    sent = len(emu.requests)
    ex = kernel.execute(MAP_CELL, timeout=60, interrupt_after=1.5)
    assert not ex.ok and ex.reply["content"]["ename"] == "MapInterrupted"
    print(f"Ctrl-C: the cell ended {ex.interrupt_latency:.2f} s after the interrupt")
    assert ex.interrupt_latency is not None and ex.interrupt_latency < 1.0
    error = ex.error_text.strip()
    assert re.fullmatch(rf"Interrupted: [\d,]+ of {ROWS:,} rows done and kept; run the same "
                        rf"call again to finish the [\d,]+ left\.", error), error  # fmt: skip
    s = summary(kernel)  # -o out holds the partial table
    partial = kernel.execute("print(out.answer.notna().sum(), len(out))").text().split()[-2:]
    assert int(partial[0]) == s["answered"] > 0 and int(partial[1]) == ROWS and s["left"] > 0
    first = len(emu.requests) - sent
    resumed = kernel.execute(
        "out = evo_magic.map(df, 'Route this ticket: {text}', concurrency=4, **OPTS)\n"
        "print('resumed', out.cached.sum(), out.answer.notna().sum())"
    )
    assert resumed.ok, resumed.error_text
    line = next(t for t in resumed.text().splitlines() if t.startswith("resumed"))
    cached, answered = (int(v) for v in line.split()[1:])
    assert cached == s["answered"] and answered == ROWS
    assert len(emu.requests) - sent - first == ROWS - s["answered"]


def test_ctrl_c_in_the_python_form_raises_with_the_partial_result(kernel: Kernel) -> None:
    ex = kernel.execute(
        "try:\n"
        "    evo_magic.map(df, 'Classify: {text}', concurrency=4, **OPTS)\n"
        "except MapInterrupted as e:\n"
        "    part = e.result\n"
        "    print('partial', part.answer.notna().sum(), e.summary.answered)\n",
        timeout=60,
        interrupt_after=1.0,
    )
    assert ex.ok, ex.error_text
    _, answered, counted = next(line for line in ex.text().splitlines() if line.startswith("partial")).split()
    assert int(answered) == int(counted) > 0 and ex.interrupt_latency is not None and ex.interrupt_latency < 1.0
