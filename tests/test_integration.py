"""Session over real loopback sockets against the emulator (no kernel)."""

from __future__ import annotations

import pytest

import evo_magic


@pytest.fixture
def emu(emulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-integration-0000")
    monkeypatch.setenv("EVOLINK_BASE_URL", emulator.url)
    return emulator


def test_protocol_switch_between_turns(emu) -> None:
    s = evo_magic.session("switch")
    first = s.ask("Explain variance", protocol="openai")
    second = s.ask("And in a table?", protocol="anthropic")
    third = s.ask("Summarise", protocol="openai")
    assert first.text and second.text and third.text and second.reasoning
    body = emu.requests[-2]  # the anthropic request
    assert body["messages"][1]["content"][0]["type"] == "thinking"
    assert body["messages"][1]["content"][0]["thinking"] == first.reasoning
    last = emu.requests[-1]["messages"]
    assert last[3]["reasoning_content"] == second.reasoning  # the anthropic turn echoed back on openai
    assert second.usage is not None and second.usage.prompt_tokens > 0


def test_tools_over_anthropic(emu) -> None:
    seen = []

    def weather(city: str) -> dict:
        """Weather for a city."""
        seen.append(city)
        return {"city": city, "celsius": 18}

    reply = evo_magic.session("tools").ask("Use weather for Lisbon", protocol="anthropic", tools=[weather])
    assert seen == ["Lisbon"] and "18" in reply.text and len(reply.rounds) == 2


def test_cache_hits_grow_and_connection_is_reused(emu) -> None:
    s = evo_magic.session("cache", system="You are a meticulous statistician. " * 30)
    before = emu.accepted_connections
    hits = [s.ask(f"Question {i} about sampling").usage.cache_hit_tokens for i in range(5)]
    assert hits[0] < hits[-1] and all(h % 64 == 0 for h in hits)
    assert hits == sorted(hits)
    assert emu.accepted_connections - before == 1


def test_json_mode_over_the_wire(emu) -> None:
    reply = evo_magic.session("json").ask("List keywords", json_mode=True)
    assert reply.data["ok"] is True
