"""An answer's provenance (sessions/provenance.py): what each answer's output metadata says,
that the live view is given it with its final render, and that the Python API's reply displays
with it (notebook/provenance.py reads it back)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from IPython.core.formatters import DisplayFormatter

import evo_magic
from evo_magic.runtime import root
from evo_magic.sessions.provenance import KEY, provenance

from .helpers import FakeApi


class Annotated:
    """A live view that keeps the metadata it is given and the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.metadata: dict[str, Any] | None = None

    def update(self, snapshot: Any) -> None:
        self.calls.append("update")

    def annotate(self, metadata: dict[str, Any]) -> None:
        self.calls.append("annotate")
        self.metadata = metadata

    def finish(self, snapshot: Any, footer: Any) -> None:
        self.calls.append("finish")


def ping(n: int) -> str:
    """Ping."""
    return f"pong {n}"


def test_each_request_s_view_gets_its_provenance_before_its_final_render(thinking_loop: Any) -> None:
    views: list[Annotated] = []

    def make(opts: Any) -> Annotated:
        views.append(Annotated())
        return views[-1]

    s = evo_magic.session()
    reply = s.ask("loop", tools=[ping], protocol="anthropic", thinking=True, view_factory=make, cell=4, cell_id="c-4")
    assert [v.calls[-2:] for v in views] == [["annotate", "finish"]] * 2
    first, last = (v.metadata[KEY] for v in views if v.metadata)  # type: ignore[index]
    assert first["request"] == reply.rounds[0].request_key and last["request"] == reply.request_key
    assert "turn" not in first and first["answer"]  # a round that called tools ends no turn
    turn = last["turn"]
    assert (turn["prompt"], turn["cell_id"], last["cell"], last["session"]) == ("loop", "c-4", 4, "default")
    # the turn's messages before the answer; the answer itself is in "answer"
    assert turn["messages"] == [m.to_record() for m in s.turns[0].messages[:-1]]
    assert any("signature" in block for m in turn["messages"] for block in m.get("thinking", ()))


def test_what_it_says(api: FakeApi) -> None:
    reply = evo_magic.session().ask("What is 2+2? My key: sk-session-test-0000", cell=3)
    from evo_magic.ledger.pricing import price_for

    when = datetime(2026, 6, 10, 9, 4, 13, tzinfo=timezone.utc)
    p = provenance(reply, now=when)
    price = price_for("deepseek-v4-flash", datetime.now(timezone.utc))
    assert price is not None
    usage = reply.usage
    assert usage is not None
    assert p | {"answer": None, "turn": None} == {
        "schema": 1,
        "version": evo_magic.__version__,
        "time": "2026-06-10T09:04:13.000000+00:00",
        "request": reply.request_key,
        "protocol": "openai",
        "model_requested": "deepseek-v4-flash",
        "model_answered": "deepseek-v4-flash",
        "status": "ok",
        "tokens": {"prompt": 10, "cache_hit": 0, "cache_miss": 10, "completion": 5, "reasoning": 3},
        "cost": f"{reply.cost:f}",
        "price_from": price.effective_from.isoformat(),
        "cached": False,
        "session": "default",
        "cell": 3,
        "answer": None,
        "turn": None,
    }
    assert "sk-session-test-0000" not in json.dumps(p) and "****0000" in json.dumps(p)


def test_a_failed_answer_says_so_and_carries_no_answer_to_replay(api: FakeApi) -> None:
    import httpx

    from evo_magic import errors

    api.script.append(httpx.Response(400, json={"error": {"message": "bad"}}))
    with pytest.raises(errors.ApiError) as caught:
        evo_magic.session().ask("q")
    p = provenance(caught.value.reply)
    assert p["status"] == "error" and "answer" not in p and "turn" not in p and p["request"]


def test_the_python_api_reply_displays_with_its_provenance(api: FakeApi) -> None:
    reply = evo_magic.session().ask("q")
    data, metadata = DisplayFormatter().format(reply)
    assert "text/html" in data and "text/plain" in data
    assert metadata[KEY]["request"] == reply.request_key


def test_the_provenance_is_made_for_the_root_s_ledger_too(api: FakeApi) -> None:
    root().accounting.cache = "on"
    evo_magic.session().ask("q")
    [row] = root().accounting.ledger.rows()
    assert row.request_key and len(row.request_key) == 64
