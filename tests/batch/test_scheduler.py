"""The async engine against the real emulator over loopback: throughput, 429 back-off, a 401 /
402 stopping the run, per-row failures, a broken answer, Stop and cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from evo_magic.batch.lanes import LANE
from evo_magic.batch.pace import Concurrency
from evo_magic.batch.scheduler import OPENING_GAP_S, RowResult, RunSummary, Scheduler
from evo_magic.config import Endpoint, Secret
from evo_magic.emulator import Emulator
from evo_magic.errors import AuthenticationError, InsufficientBalanceError
from evo_magic.transport import TransportSettings

from ..conftest import run_async

KEY = "sk-sched-test-0001"


def rows(n: int, **extra) -> list[tuple[int, dict]]:
    body = {"model": "deepseek-v4-flash", "thinking": {"type": "disabled"}, "max_tokens": 12, **extra}
    return [(i, {**body, "messages": [{"role": "user", "content": f"Label row {i}"}]}) for i in range(n)]


def scheduler(emu: Emulator, key: str = KEY, **kw) -> Scheduler:
    kw.setdefault("rng", lambda: 0.0)  # no jitter: backoff waits are 0 unless the server says
    return Scheduler(Endpoint((emu.url,), Secret(key)), **kw)


def run(s: Scheduler, todo, stop=None):
    got: list[RowResult] = []
    summary = run_async(s.run(todo, on_result=got.append, stop=stop))
    return summary, got


@pytest.fixture(scope="module")
def emu():
    with Emulator(latency=0.02) as e:
        yield e


def test_every_row_is_answered_with_text_usage_and_timings(emu: Emulator) -> None:
    summary, got = run(scheduler(emu, concurrency=8), rows(40))
    assert sorted(r.key for r in got) == list(range(40)) and all(r.ok for r in got)
    assert all(r.text and r.usage and r.usage.prompt_tokens > 0 and r.model == "deepseek-v4-flash" for r in got)
    assert all(r.finish in ("stop", "length") and r.seconds >= 0.02 and r.attempts == 1 for r in got)
    assert (summary.done, summary.failed, summary.stopped, summary.fatal) == (40, 0, None, None)
    assert summary.usage.completion_tokens == sum(r.usage.completion_tokens for r in got)


def test_the_requests_are_not_streamed_and_go_over_few_connections(emu: Emulator) -> None:
    before, seen = emu.accepted_connections, len(emu.requests)
    run(scheduler(emu, concurrency=4), rows(30, stream=True, stream_options={"include_usage": True}))
    assert emu.accepted_connections - before <= 4
    assert all(b["stream"] is False and "stream_options" not in b for b in emu.requests[seen:])


def test_429s_halve_the_concurrency_honour_retry_after_and_every_row_still_succeeds() -> None:
    waits: list[float] = []

    async def faster(seconds: float) -> None:  # the waits asked for, taken 5 times faster
        waits.append(seconds)
        await asyncio.sleep(seconds / 5)

    with Emulator(latency=0.05, max_concurrency=4, retry_after=1) as limited:
        s = scheduler(limited, concurrency=16, sleep=faster)
        summary, got = run(s, rows(24))
    assert sorted(r.key for r in got) == list(range(24)) and all(r.ok for r in got)
    assert summary.throttled > 0 and limited.state.rejected == summary.throttled
    assert summary.lowest_concurrency <= 4 and s.pace.decreases >= 2
    assert waits and set(waits) == {1.0}  # each refused row waited the Retry-After: 1 it was told
    assert max(r.attempts for r in got) >= 2 and limited.state.peak_in_flight == 4


def test_a_retry_really_waits_the_retry_after() -> None:
    with Emulator(latency=0.05, max_concurrency=1, retry_after=0.5) as limited:
        start = time.monotonic()
        summary, _ = run(scheduler(limited, concurrency=2), rows(2))
        elapsed = time.monotonic() - start
    assert summary.done == 2 and summary.throttled >= 1 and elapsed >= 0.5


@pytest.mark.parametrize("fault,error", [("401", AuthenticationError), ("402", InsufficientBalanceError)])
def test_a_401_or_402_stops_the_run_at_once_keeping_finished_rows(emu: Emulator, fault: str, error: type) -> None:
    s = scheduler(emu, concurrency=1)
    got: list[RowResult] = []

    def seen(result: RowResult) -> None:
        got.append(result)
        if len(got) == 3:
            emu.fail_next(fault)

    sent = len(emu.requests)
    summary = run_async(s.run(rows(20), on_result=seen))
    assert [r.key for r in got] == [0, 1, 2] and isinstance(summary.fatal, error)
    assert summary.stopped == str(summary.fatal) and "\n" not in summary.stopped and KEY not in summary.stopped
    assert len(emu.requests) - sent == 4  # nothing sent after the refusal


def test_a_wrong_key_stops_before_any_row(emu: Emulator) -> None:
    summary, got = run(scheduler(emu, key="invalid", concurrency=8), rows(30))
    assert got == [] and isinstance(summary.fatal, AuthenticationError) and summary.done == 0


def test_other_failures_stay_with_their_row_and_never_stop_the_run(emu: Emulator) -> None:
    s = scheduler(emu, concurrency=1, max_retries=2)
    got: list[RowResult] = []

    def seen(result: RowResult) -> None:
        got.append(result)
        if result.key == 1:
            for _ in range(3):
                emu.fail_next("500")  # row 2: three 500s, more than its two retries
        if result.key == 4:
            emu.fail_next("context_length")  # row 5: a 400, not retried
        if result.key == 6:
            emu.fail_next("503")  # row 7: one 503, retried

    summary = run_async(s.run(rows(10), on_result=seen))
    by_key = {r.key: r for r in got}
    assert len(got) == 10 and summary.done == 8 and summary.failed == 2
    assert by_key[2].error.startswith("HTTP 500: Server Error") and "3 tries" in by_key[2].error
    assert by_key[2].status == 500 and by_key[2].attempts == 3
    assert by_key[5].error.startswith("HTTP 400: This model's maximum context length") and by_key[5].attempts == 1
    assert by_key[7].ok and by_key[7].attempts == 2


def test_an_answer_broken_after_its_first_byte_fails_its_row_and_is_not_sent_again(emu: Emulator) -> None:
    s = scheduler(emu, concurrency=1)
    emu.fail_next("gzip")
    sent = len(emu.requests)
    summary, got = run(s, rows(3))
    broken = next(r for r in got if r.key == 0)
    assert broken.error.startswith("the answer from http://127.0.0.1") and "broke off (DecodingError)" in broken.error
    assert summary.failed == 1 and summary.done == 2 and len(emu.requests) - sent == 3


def test_stop_ends_the_run_within_a_second_keeping_finished_rows() -> None:
    # counted approximately: loading DeepSeek's tokenizer (in a process that has not yet) took
    # the first answers past the Stop at 0.5 s
    with Emulator(latency=0.4, exact_tokens=False) as slow:
        stop = threading.Event()
        got: list[RowResult] = []
        threading.Timer(0.5, stop.set).start()
        start = time.monotonic()
        summary = run_async(scheduler(slow, concurrency=2).run(rows(100), on_result=got.append, stop=stop))
        ended = time.monotonic() - start
        assert summary.stopped == "stop" and 2 <= summary.done == len(got) < 100
        assert ended < 0.5 + 0.3
        deadline = time.monotonic() + 2
        while slow.state.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.state.in_flight == 0  # the abandoned requests were closed


def test_cancelling_the_task_abandons_in_flight_requests_cleanly() -> None:
    with Emulator(latency=0.6) as slow:
        async def main() -> None:
            task = asyncio.ensure_future(scheduler(slow, concurrency=4).run(rows(8)))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        start = time.monotonic()
        run_async(main())
        assert time.monotonic() - start < 0.4  # not the 0.6 s answers


def test_results_as_an_async_iterator_and_the_anthropic_protocol(emu: Emulator) -> None:
    body = {"model": "deepseek-v4-flash", "max_tokens": 12, "thinking": {"type": "disabled"}}
    todo = [(f"r{i}", {**body, "messages": [{"role": "user", "content": f"row {i}"}]}) for i in range(6)]
    s = scheduler(emu, protocol="anthropic", concurrency=3)

    async def main() -> list[RowResult]:
        return [r async for r in s.results(todo)]

    got = run_async(main())
    assert sorted(r.key for r in got) == [f"r{i}" for i in range(6)] and all(r.ok and r.text for r in got)
    assert s.summary is not None and s.summary.done == 6 and got[0].usage.prompt_tokens > 0


def test_a_row_that_cannot_be_encoded_fails_alone(emu: Emulator) -> None:
    summary, got = run(scheduler(emu, concurrency=2), [*rows(2), ("bad", {"model": "x", "messages": object()})])
    bad = next(r for r in got if r.key == "bad")
    assert bad.error.startswith("the request could not be encoded as JSON") and summary.done == 2


def test_an_unreachable_server_fails_each_row_with_one_line() -> None:
    s = Scheduler(Endpoint(("http://127.0.0.1:9",), Secret(KEY)), concurrency=2,
                  settings=TransportSettings(connect_timeout=1), rng=lambda: 0.0)
    summary, got = run(s, rows(3))
    assert summary.failed == 3 and all(r.error.startswith("cannot connect to http://127.0.0.1:9") for r in got)


# --- the adaptive concurrency (pure) -------------------------------------------------------


def test_concurrency_halves_once_per_wave_and_grows_back_additively() -> None:
    c = Concurrency(64)
    wave = c.epoch
    assert c.throttled(wave) and c.current == 32
    assert not c.throttled(wave) and c.current == 32  # another 429 of the same wave
    assert c.throttled(c.epoch) and c.current == 16 and c.lowest == 16
    grown = sum(c.succeeded() for _ in range(17))  # a round of successes (the limit grows within it)
    assert c.current == 17 and grown == 1
    for _ in range(10_000):
        c.succeeded()
    assert c.current == 64 and not c.succeeded()
    tiny = Concurrency(2)
    for _ in range(5):
        tiny.throttled(tiny.epoch)
    assert tiny.current == 1
    with pytest.raises(ValueError):
        Concurrency(0)


def test_the_lanes_open_one_after_another_not_in_one_burst(emu: Emulator) -> None:
    """The first requests of the lanes are spread over a short ramp (OPENING_GAP_S apart):
    16 requests in one instant queue at the server, and with answers that all take as long
    (a steady latency) the lanes would stay in that lockstep for the whole run."""
    firsts: dict[int, float] = {}

    async def seen(request: httpx.Request) -> None:
        firsts.setdefault(request.extensions[LANE], time.monotonic())

    async def go() -> RunSummary:
        async with httpx.AsyncClient(event_hooks={"request": [seen]}) as client:
            return await scheduler(emu, concurrency=16, client=client).run(rows(32))

    summary = run_async(go())
    assert summary.done == 32 and sorted(firsts) == list(range(16))
    opened = [firsts[lane] - firsts[0] for lane in range(16)]
    assert opened == sorted(opened) and OPENING_GAP_S >= 0.001  # in lane order, a millisecond or more apart
    assert 15 * OPENING_GAP_S <= opened[-1] < 15 * OPENING_GAP_S + 0.5  # a short ramp, not one burst


def test_the_key_the_model_repeats_or_the_server_echoes_is_masked_in_each_rows_result() -> None:
    """A row's answer (and its schema retry, its error text) holds what the model said: the key,
    repeated by the model or echoed by a proxy into the answer's model name, is masked as a
    cell masks it, before the answer reaches the result, the ledger or the store of answers."""
    from ..keys import MASKED, OUTPUT_KEY

    def handler(request: httpx.Request) -> httpx.Response:
        message = {"role": "assistant", "content": f"the key is {OUTPUT_KEY}.", "reasoning_content": OUTPUT_KEY}
        return httpx.Response(200, json={
            "id": f"id-{OUTPUT_KEY}", "object": "chat.completion", "model": f"m-{OUTPUT_KEY}",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})  # fmt: skip

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    s = Scheduler(Endpoint(("http://127.0.0.1:9",), Secret(OUTPUT_KEY)), client=client, rng=lambda: 0.0)
    _, got = run(s, rows(2))
    assert [r.text for r in got] == [f"the key is {MASKED}."] * 2 and got[0].model == f"m-{MASKED}"
    assert OUTPUT_KEY not in repr(got) + repr([r.snapshot.reasoning for r in got])
