"""The emulator under load: server-side latency and a concurrency limit answered with 429."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from evo_magic.emulator import Emulator

from ..conftest import run_async

BODY = {"model": "deepseek-v4-flash", "thinking": {"type": "disabled"}, "max_tokens": 20,
        "messages": [{"role": "user", "content": "Say hi"}]}
ANTHROPIC = {"model": "deepseek-v4-flash", "max_tokens": 20, "messages": [{"role": "user", "content": "Say hi"}]}
KEY = {"Authorization": "Bearer sk-load-test-0000"}


async def fire(url: str, n: int, path: str = "/v1/chat/completions", body: dict = BODY, **extra) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.post(url + path, json={**body, **extra}, headers=KEY) for _ in range(n)))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path,body", [("/v1/chat/completions", BODY), ("/v1/messages", ANTHROPIC)])
def test_latency_comes_before_the_first_byte(path: str, body: dict, stream: bool) -> None:
    with Emulator(latency=0.15) as emu, httpx.Client(timeout=10) as client:
        start = time.monotonic()
        with client.stream("POST", emu.url + path, json={**body, "stream": stream}, headers=KEY) as r:
            first = next(r.iter_raw())
            waited = time.monotonic() - start
        assert r.status_code == 200 and first
        assert 0.15 <= waited < 0.15 + 0.25


@pytest.mark.parametrize("retry_after,header", [(None, "1"), (0, "0"), (2.5, "2.5")])
def test_over_the_limit_is_a_429_with_retry_after_and_the_vendor_body(retry_after, header: str) -> None:
    told = {} if retry_after is None else {"retry_after": retry_after}
    with Emulator(latency=0.15, max_concurrency=4, **told) as emu:
        responses = run_async(fire(emu.url, 10))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 4 + [429] * 6
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["retry-after"] == header and f"retry after {header} s" in refused.json()["error"]["message"]
        assert refused.json()["error"]["type"] == "rate_limit_error" and "concurrent" in refused.json()["error"]["message"]
        assert emu.state.in_flight == 0 and emu.state.peak_in_flight == 4 and emu.state.rejected == 6
        messages = run_async(fire(emu.url, 6, "/v1/messages", ANTHROPIC))
        assert sorted(r.status_code for r in messages) == [200] * 4 + [429] * 2
        assert next(r for r in messages if r.status_code == 429).json()["type"] == "error"


def test_in_flight_counts_stay_exact_under_load() -> None:
    with Emulator(latency=0.05, max_concurrency=16) as emu:
        for _ in range(3):
            responses = run_async(fire(emu.url, 40, stream=True))
            assert {r.status_code for r in responses} <= {200, 429}
        ok = sum(r.status_code == 200 for r in responses)
        assert ok >= 16 and emu.state.in_flight == 0 and emu.state.peak_in_flight == 16


def test_a_client_gone_mid_stream_frees_its_slot() -> None:
    with Emulator(tokens_per_second=50, max_concurrency=1) as emu, httpx.Client(timeout=10) as client:
        with client.stream("POST", emu.url + "/v1/chat/completions", json={**BODY, "stream": True, "max_tokens": 400},
                           headers=KEY) as r:
            chunks = r.iter_raw()  # kept: a dropped iterator closes the stream
            next(chunks)
            assert emu.state.in_flight == 1
            assert client.post(emu.url + "/v1/chat/completions", json=BODY, headers=KEY).status_code == 429
        deadline = time.monotonic() + 5
        while emu.state.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emu.state.in_flight == 0
        assert client.post(emu.url + "/v1/chat/completions", json=BODY, headers=KEY).status_code == 200


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="latency"):
        Emulator(latency=-1)
    with pytest.raises(ValueError, match="max_concurrency"):
        Emulator(max_concurrency=0)
    with pytest.raises(ValueError, match="retry_after"):
        Emulator(retry_after=-1)


def test_exact_tokens_without_the_vocabulary_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import evo_magic.emulator as emulator

    monkeypatch.setattr(emulator, "vocabulary", lambda: None)
    with pytest.raises(ValueError, match=r"exact_tokens=True: exact DeepSeek token counts need the vocabulary"):
        Emulator(exact_tokens=True)


