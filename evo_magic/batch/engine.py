"""A run's requests on the scheduler, and what the kernel does with each answer (IO).

The :class:`~evo_magic.batch.scheduler.Scheduler` runs on its own event loop in a thread
(a Jupyter kernel's main thread already runs one), handing each result to a queue. The
kernel's main thread takes them as they come, in the groups that gather while it handles the
previous one (at least ten times a second): it prices and records
them (:class:`~evo_magic.batch.record.Recorder`: ledger rows, kept answers; each request's
``started`` row is written by the scheduler's thread just before it is sent), validates each
answer against the schema (an invalid one gets one more request, with the validation error,
in a second pass), counts them for the progress view, and stops the run when the notebook's
budget is reached, when Stop is pressed, or at Ctrl-C — within a second, every finished row
recorded first.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..config import Endpoint, TransportSettings
from ..core.usage import Usage
from .job import Job, Retry
from .progress import Coalesced, Counts
from .record import Recorder
from .results import Answer, resolve
from .scheduler import RowResult, RunSummary, Scheduler

POLL_S = 0.1  # the longest the main thread waits for a result before it looks at Stop and the view
ZERO = Decimal(0)
_DONE = object()


@dataclass(frozen=True)
class Ask:
    """One request to send: its key, the row it is built from, its retry, and the distinct
    request (``owner``) whose answer it gives."""

    key: str
    row: int
    owner: str
    retry: Retry | None = None


@dataclass
class Outcome:
    """How a pass ended: ``stopped`` ("stop", "budget", "interrupted", a 401 / 402's message)."""

    stopped: str | None = None
    summary: RunSummary | None = None
    interrupted: bool = False
    requests: int = 0
    drained: bool = False  # the scheduler's thread said it is done


@dataclass
class Engine:
    """Runs passes of requests for one ``evo_magic.map`` call; ``answers`` collects the outcome
    of every distinct request."""

    job: Job
    endpoint: Endpoint
    recorder: Recorder
    counts: Counts
    view: Coalesced
    concurrency: int
    settings: TransportSettings
    budget_left: Decimal | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    throttled: int = 0
    requests: int = 0
    cut_off: int = 0  # requests sent whose answer never came (a stop, Ctrl-C, the budget, a 401)
    _rows: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rows = Counter(self.job.keys)

    # --- answers ------------------------------------------------------------------------
    def resolve(self, owner: str, text: str | None, error: str | None, retried: bool) -> Retry | None:
        """Settle ``owner``'s answer (see :func:`~evo_magic.batch.results.resolve`)."""
        return resolve(self.answers, self.job.schema, owner, self._rows[owner], text, error, retried, self.counts)

    def kept(
        self, owner: str, text: str | None, usage: Usage | None, cost: Decimal | None, retried: bool
    ) -> Retry | None:
        """``owner`` (or its retry) was answered by an earlier run."""
        answer = self.answers.setdefault(owner, Answer())
        answer.kept = True
        answer.add(usage, cost)
        self.counts.kept += self._rows[owner]
        return self.resolve(owner, text, None, retried)

    def _settle(self, ask: Ask, result: RowResult) -> Retry | None:
        price = self.recorder.price(result)
        self.recorder.settled(result, price)
        answer = self.answers.get(ask.owner)
        if answer is None:
            answer = self.answers[ask.owner] = Answer()
        answer.add(result.usage, price if result.usage is not None else ZERO)
        c = self.counts
        if result.usage is not None:
            u = result.usage
            c.tokens_in, c.tokens_out, c.cache_hit_tokens = (c.tokens_in + u.prompt_tokens,
                                                             c.tokens_out + u.completion_tokens,
                                                             c.cache_hit_tokens + u.cache_hit_tokens)  # fmt: skip
        if price is not None:
            c.cost += price
        elif result.usage is not None:
            c.unknown_cost += 1
        return self.resolve(ask.owner, result.text, result.error, ask.retry is not None)

    # --- a pass -------------------------------------------------------------------------
    def run(self, asks: list[Ask]) -> tuple[Outcome, list[Ask]]:
        """Send ``asks``; the outcome and the schema retries their answers need."""
        outcome = Outcome()
        if not asks or self.counts.stopping:
            return outcome, []
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        by_key = {a.key: a for a in asks}
        box: list[Any] = []
        thread = threading.Thread(target=self._serve, args=(asks, q, box), name="evo-magic-map", daemon=True)
        thread.start()
        retries: list[Ask] = []
        inbox: deque[Any] = deque()
        try:
            self._drain(q, inbox, by_key, retries, outcome)
        except KeyboardInterrupt:
            outcome.interrupted = True
            self.counts.stop()
            while True:  # the scheduler ends within a tenth of a second: keep every row it finished
                try:
                    self._drain(q, inbox, by_key, retries, outcome)
                    break
                except KeyboardInterrupt:
                    continue
        thread.join()
        self.cut_off += self.recorder.abandon()
        if box and isinstance(box[0], BaseException):
            raise box[0]
        outcome.summary = box[0] if box else None
        self._ended(outcome)
        return outcome, retries

    def _ended(self, outcome: Outcome) -> None:
        summary = outcome.summary
        if summary is not None:
            self.throttled += summary.throttled
        if outcome.interrupted:
            outcome.stopped = "interrupted"
        elif summary is not None and summary.fatal is not None:
            outcome.stopped = str(summary.fatal)
        elif self.budget_left is not None and self.counts.cost >= self.budget_left:
            outcome.stopped = "budget"
        elif self.counts.stopping:
            outcome.stopped = "stop"

    def _drain(
        self, q: queue.SimpleQueue[Any], inbox: deque[Any], by_key: dict[str, Ask], retries: list[Ask],
        outcome: Outcome,
    ) -> None:  # fmt: skip
        """Take results until the scheduler's thread says it is done (see the module docstring).
        What was taken waits in ``inbox`` until handled, so an interrupt loses none of it."""
        while True:
            inbox.extend(take_results(q) if not outcome.drained else ())
            while inbox:
                item = inbox.popleft()
                if item is _DONE:
                    outcome.drained = True
                elif isinstance(item, str):  # a request went out (its started row is written)
                    self.requests += 1
                    self.counts.sent()
                else:
                    ask = by_key[str(item.key)]
                    retry = self._settle(ask, item)
                    if retry is not None:
                        retries.append(Ask(self.job.key(self.job.body(ask.row, retry)), ask.row, ask.owner, retry))
            self.recorder.flush()
            if self.budget_left is not None and self.counts.cost >= self.budget_left:
                self.counts.stop()
            self.view.update(self.counts, force=outcome.drained)
            if outcome.drained:
                return

    def _serve(self, asks: list[Ask], q: queue.SimpleQueue[Any], box: list[Any]) -> None:
        """The scheduler's thread: its own event loop, results into ``q``, then ``_DONE``."""
        scheduler = Scheduler(self.endpoint, protocol=self.job.opts.protocol, concurrency=self.concurrency,
                              settings=self.settings)  # fmt: skip
        try:
            box.append(asyncio.run(scheduler.run(self._feed(asks, q), on_result=q.put, stop=self.counts.stop_event)))
        except BaseException as exc:  # handed to the main thread, raised there
            box.append(exc)
        finally:
            q.put(_DONE)

    def _feed(self, asks: list[Ask], q: queue.SimpleQueue[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for ask in asks:
            if self.counts.stopping:
                return
            body = self.job.body(ask.row, ask.retry)
            self.recorder.started(ask.key)  # its ledger row, before it is sent
            q.put(ask.key)
            yield ask.key, body


def take_results(q: queue.SimpleQueue[Any]) -> list[Any]:
    """What came back: the first result within :data:`POLL_S`, then all that is already there,
    without waiting. Under load the results are handled in the groups that gather while the
    previous group is handled; a result never waits to be recorded longer than that (a SIGKILL
    loses only the answers in flight and in hand), and an idle run still wakes ten times a
    second for Stop, Ctrl-C and the view."""
    items: list[Any] = []
    try:
        items.append(q.get(timeout=POLL_S))
    except queue.Empty:
        return items
    while items[-1] is not _DONE:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            break
    return items


__all__ = ["Ask", "Engine", "Outcome", "take_results"]
