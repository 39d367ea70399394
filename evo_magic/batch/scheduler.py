"""The async engine of a run: many requests on one keep-alive ``httpx.AsyncClient``.

``Scheduler(endpoint, concurrency=32).run(rows, on_result=...)`` sends one non-streamed request
per ``(key, body)`` row, up to ``concurrency`` in flight, and hands each :class:`RowResult` to
``on_result`` as it completes (in completion order; :meth:`Scheduler.results` is the same as an
async iterator). Policy:

- retries only before the first body byte, as the cells' transport does, with the same pure
  policy (:class:`evo_magic.fallback.Plan`): 429 and 5xx are retried after Retry-After or a
  capped, jittered backoff, 5xx on the next base URL, a refused connection moves on;
- a 429 also halves the run's concurrency (once per wave), which then grows back by one
  request per round of successes (:class:`~evo_magic.batch.pace.Concurrency`);
- a 401 or 402 stops the whole run at once: in-flight requests are abandoned and
  :attr:`RunSummary.fatal` holds the one error; any other failure is that row's ``error``
  (one line) and the run goes on;
- the lanes open one after another, :data:`OPENING_GAP_S` apart, not in one burst;
- ``stop`` (a ``threading.Event``, e.g. set by a Stop button or Ctrl-C) ends the run within
  0.1 s; cancelling the task does too. Rows already delivered stay delivered.

Each worker sends in its own lane — one keep-alive connection — on the run's
:class:`~evo_magic.batch.connection.Wire` (HTTP/1.1 on asyncio streams, a small fraction of
httpx's CPU per request), or, through a proxy or with a given ``httpx.AsyncClient``, on httpx
in lanes (:mod:`~evo_magic.batch.lanes`); see benchmarks/bench_map.py for what a row costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx

from ..config import Endpoint
from ..core.deltas import SecretMask
from ..core.snapshot import TurnSnapshot, accumulate
from ..core.usage import Usage
from ..errors import EvoMagicError, ProtocolError, error_from_body
from ..fallback import Failure, GiveUp, Plan
from ..protocol import codec
from ..transport import TransportSettings, failure_of
from .connection import Wire, needs_proxy
from .lanes import LANE, lane_client
from .pace import Concurrency

FATAL_STATUSES = frozenset({401, 402})
MAX_RETRIES = 6  # waits per row: 429s under a shared limit need more than a cell's 3
STOP_POLL_S = 0.05
# the lanes open one after another, this far apart: requests that all leave in one instant
# queue together at the server, and with answers that take about as long each (a steady
# latency) the lanes would keep that lockstep for the whole run (64 lanes: a 0.13 s ramp)
OPENING_GAP_S = 0.002

Row = tuple[Hashable, Mapping[str, Any]]


@dataclass(frozen=True)
class RowResult:
    """One row's outcome: the answer ``text`` (None on failure) or the ``error`` (one line)."""

    key: Hashable
    text: str | None
    usage: Usage | None = None
    error: str | None = None
    status: int | None = None  # the last HTTP status
    model: str | None = None  # the model that answered
    finish: str | None = None
    attempts: int = 1
    seconds: float = 0.0  # from the first send to the answer
    snapshot: TurnSnapshot | None = field(default=None, repr=False, compare=False)  # the answer, folded

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RunSummary:
    """What a run did. ``fatal`` is the 401 / 402 that stopped it; ``stopped`` says why the run
    ended early ("stop", the fatal message), None when every row was answered."""

    done: int
    failed: int
    throttled: int  # 429s received
    retries: int
    seconds: float
    concurrency: int  # the limit at the end
    lowest_concurrency: int
    usage: Usage | None
    stopped: str | None = None
    fatal: EvoMagicError | None = None


class Reply(Protocol):
    """An answer whose status and headers came: the wire's, or an httpx response's."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    async def aclose(self) -> None: ...


Send = Callable[[int, str, bytes], Awaitable[Reply]]  # (lane, base URL, JSON body) -> the reply


class _HttpxReply:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers

    async def read(self) -> bytes:
        return await self.response.aread()

    async def aclose(self) -> None:
        await self.response.aclose()


class _Fatal(Exception):
    def __init__(self, error: EvoMagicError) -> None:
        super().__init__(str(error))
        self.error = error


class Scheduler:
    """Runs rows against ``endpoint`` (its base URLs and key) over ``protocol``."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        protocol: str = "openai",
        concurrency: int = 32,
        settings: TransportSettings | None = None,
        max_retries: int = MAX_RETRIES,
        client: httpx.AsyncClient | None = None,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.codec = codec(protocol)
        self.settings = settings or TransportSettings()
        self.max_retries = max_retries
        self.pace = Concurrency(concurrency)
        self._client = client
        self._rng = rng
        self._sleep = sleep  # how a retry waits (tests pass a faster clock)
        key = endpoint.require_key().reveal()
        self._secret = key
        # httpx.Headers: its repr masks Authorization, so no traceback's locals show the key
        self._headers = httpx.Headers({
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            **({"x-api-key": key, "anthropic-version": "2023-06-01"} if protocol == "anthropic" else {}),
        })
        self._preferred = 0
        self._wake = asyncio.Event()
        self._exhausted = False
        self.throttled = self.retries = 0
        self.summary: RunSummary | None = None

    async def results(self, rows: Iterable[Row], stop: threading.Event | None = None) -> AsyncIterator[RowResult]:
        """The rows' results as they complete (the run's summary is :attr:`summary` after)."""
        queue: asyncio.Queue[RowResult | None] = asyncio.Queue()
        task = asyncio.ensure_future(self.run(rows, on_result=queue.put_nowait, stop=stop))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (item := await queue.get()) is not None:
                yield item
            self.summary = task.result()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(
        self,
        rows: Iterable[Row],
        on_result: Callable[[RowResult], object] | None = None,
        stop: threading.Event | None = None,
    ) -> RunSummary:
        """Send every row; deliver each result to ``on_result`` as it completes."""
        start = time.monotonic()
        feed: Iterator[Row] = iter(rows)
        counts = {"done": 0, "failed": 0}
        usages: list[Usage | None] = []
        fatal: list[EvoMagicError] = []

        def deliver(result: RowResult) -> None:
            counts["done" if result.ok else "failed"] += 1
            usages.append(result.usage)
            if on_result is not None:
                on_result(result)

        send, close = self._sender()
        workers = [asyncio.ensure_future(self._worker(i, feed, send, deliver)) for i in range(self.pace.maximum)]
        watcher = asyncio.ensure_future(_watch(stop))
        stopped: str | None = None
        try:
            pending: set[asyncio.Future[None]] = {*workers, watcher}
            while any(not w.done() for w in workers):
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if watcher in finished:
                    stopped = "stop"
                    break
                failure = next((f.exception() for f in finished if f.exception() is not None), None)
                if isinstance(failure, _Fatal):
                    fatal.append(failure.error)
                    stopped = str(failure.error)
                    break
                if failure is not None:
                    raise failure
        finally:
            for task in [*workers, watcher]:
                task.cancel()
            await asyncio.gather(*workers, watcher, return_exceptions=True)
            await close()
        return RunSummary(
            counts["done"], counts["failed"], self.throttled, self.retries, time.monotonic() - start,
            self.pace.current, self.pace.lowest, Usage.total(usages), stopped, fatal[0] if fatal else None,
        )

    def _sender(self) -> tuple[Send, Callable[[], Awaitable[None]]]:
        """How this run sends, and how it closes after: the wire, or httpx (a given client, or
        lanes of httpx when a proxy is configured)."""
        path, given = self.codec.PATH, self._client
        if given is None and not any(needs_proxy(b) for b in self.endpoint.base_urls):
            wire = Wire(self._headers, self.settings.connect_timeout, self.settings.read_timeout)
            return (lambda lane, base, payload: wire.send(lane, base, path, payload)), wire.aclose
        client = given or lane_client(self.settings.connect_timeout, self.settings.read_timeout, self._headers)
        headers = self._headers if given is not None else None  # our own client carries them already

        async def send(lane: int, base: str, payload: bytes) -> Reply:
            request = client.build_request("POST", base + path, content=payload, headers=headers,
                                           extensions={LANE: lane})  # fmt: skip
            return _HttpxReply(await client.send(request, stream=True))

        async def close() -> None:
            if given is None:
                await client.aclose()

        return send, close

    async def _worker(
        self, lane: int, feed: Iterator[Row], send: Send, deliver: Callable[[RowResult], None]
    ) -> None:
        if lane:
            await asyncio.sleep(lane * OPENING_GAP_S)
        while True:
            while lane >= self.pace.current and not self._exhausted:  # parked until the limit grows
                self._wake.clear()
                await self._wake.wait()
            row = next(feed, None)
            if row is None:
                self._exhausted = True
                self._wake.set()
                return
            deliver(await self._row(row, lane, send))

    def _payload(self, body: Mapping[str, Any]) -> bytes:
        body = {k: v for k, v in body.items() if k != "stream_options"}
        body["stream"] = False
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")

    async def _row(self, row: Row, lane: int, send: Send) -> RowResult:
        key, body = row
        try:
            payload = self._payload(body)
        except (TypeError, ValueError) as exc:
            return RowResult(key, None, error=f"the request could not be encoded as JSON: {exc}")
        bases = self.endpoint.base_urls
        plan = Plan(bases, start=self._preferred, max_retries=self.max_retries, rng=self._rng)
        base, started, attempts = plan.first, time.monotonic(), 0
        while True:
            attempts += 1
            epoch = self.pace.epoch
            try:
                outcome = await self._attempt(send, base, payload, lane)
            except ProtocolError as exc:  # the answer broke off: never sent again
                return RowResult(key, None, error=str(exc), status=200, attempts=attempts,
                                 seconds=time.monotonic() - started)
            if not isinstance(outcome, Failure):
                self._preferred = bases.index(base)
                if self.pace.succeeded():
                    self._wake.set()
                return self._parsed(key, outcome, attempts, time.monotonic() - started)
            status = outcome.status
            if status in FATAL_STATUSES:
                raise _Fatal(outcome.error)
            if status == 429:
                self.throttled += 1
                self.pace.throttled(epoch)
            step = plan.after(outcome)
            if isinstance(step, GiveUp):
                return RowResult(key, None, error=str(step.error), status=status, attempts=attempts,
                                 seconds=time.monotonic() - started)
            self.retries += step.counted
            if step.delay > 0:
                await self._sleep(step.delay)
            base = step.base

    async def _attempt(self, send: Send, base: str, payload: bytes, lane: int) -> Failure | bytes:
        """One POST: the answer's bytes, or how it failed before the first body byte (an error
        once the answer started is a ProtocolError: that row fails, nothing is sent again)."""
        try:
            reply = await send(lane, base, payload)
        except Exception as exc:
            return failure_of(exc, base, base + self.codec.PATH, self.settings)
        try:
            if reply.status < 400:
                try:
                    return await reply.read()
                except httpx.HTTPError as exc:
                    raise ProtocolError(f"the answer from {base} broke off ({type(exc).__name__})") from None
            at = datetime.now(timezone.utc)
            try:
                raw: bytes | str = await reply.read()
            except httpx.HTTPError as exc:
                raw = f"the error body was cut off ({type(exc).__name__})"
            error = error_from_body(reply.status, raw, reply.headers, self._secret, now=at)
            return Failure.answered(base, base + self.codec.PATH, error, at)
        finally:
            await reply.aclose()

    def _parsed(self, key: Hashable, raw: bytes, attempts: int, seconds: float) -> RowResult:
        try:
            mask = SecretMask()  # the key the model repeats (or a proxy echoes), masked as a cell masks it
            snap = accumulate([*mask.feed(self.codec.parse_response(raw)), *mask.flush()])
        except EvoMagicError as exc:
            return RowResult(key, None, error=str(exc), status=200, attempts=attempts, seconds=seconds)
        error = None if snap.error is None else str(snap.error)
        text = None if error else snap.text
        return RowResult(key, text, snap.usage, error, 200, snap.model, snap.finish_reason, attempts, seconds, snap)


async def _watch(stop: threading.Event | None) -> None:
    """Returns once ``stop`` is set (never, without one)."""
    if stop is None:
        await asyncio.Event().wait()
        return
    while not stop.is_set():
        await asyncio.sleep(STOP_POLL_S)
