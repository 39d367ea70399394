"""The Stop button's clicks past a running cell: what happens outside a kernel and without
ipykernel's routing hook (in a real kernel: tests/kernel/test_map.py and tests/browser)."""

from __future__ import annotations

from types import SimpleNamespace

from evo_magic.batch import subshell
from evo_magic.batch.subshell import FEATURE, Subshell, route_clicks, supports_subshells
from evo_magic.runtime import root


def test_outside_a_kernel_clicks_cannot_be_routed_and_no_subshell_is_asked_for() -> None:
    hooked = SimpleNamespace(comm=SimpleNamespace(_reply_subshell_for=lambda data, default: default))
    assert subshell.kernel() is None and route_clicks(hooked, root()) is False
    assert root().part(Subshell).id is None


def test_a_comm_without_the_routing_hook_is_not_routed() -> None:
    assert route_clicks(SimpleNamespace(comm=SimpleNamespace()), root()) is False
    assert route_clicks(SimpleNamespace(), root()) is False


def test_subshells_are_read_from_the_kernels_supported_features() -> None:
    assert supports_subshells(SimpleNamespace(kernel_info={"supported_features": [FEATURE, "debugger"]}))
    assert not supports_subshells(SimpleNamespace(kernel_info={"supported_features": ["debugger"]}))
    assert not supports_subshells(None)


def test_without_a_kernel_to_ask_the_subshell_is_none_and_asked_for_once(monkeypatch) -> None:
    calls: list[str] = []

    def refuse(msg_type: str, content: dict, timeout: float = 5.0) -> dict:
        calls.append(msg_type)
        raise OSError("no connection file")

    monkeypatch.setattr(subshell, "_control", refuse)
    part = Subshell(root())
    assert part.ensure() is None and part.ensure() is None and calls == ["create_subshell_request"]
    part.close()
    assert calls == ["create_subshell_request"]


def test_a_subshell_routes_the_comm_and_is_deleted_when_the_root_closes(monkeypatch) -> None:
    calls: list[tuple[str, dict]] = []

    def answer(msg_type: str, content: dict, timeout: float = 5.0) -> dict:
        calls.append((msg_type, content))
        return {"status": "ok", "subshell_id": "s-1"}

    monkeypatch.setattr(subshell, "_control", answer)
    monkeypatch.setattr(subshell, "kernel", lambda: SimpleNamespace(kernel_info={"supported_features": [FEATURE]}))
    comm = SimpleNamespace(_reply_subshell_for=lambda data, default: default)
    assert route_clicks(SimpleNamespace(comm=comm), root()) is True
    assert comm._reply_subshell_for({"method": "custom"}, None) == "s-1"
    root().part(Subshell).close()
    assert calls == [("create_subshell_request", {}), ("delete_subshell_request", {"subshell_id": "s-1"})]
