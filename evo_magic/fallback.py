"""Which base URL next, after how long, or which error to give up with: the retry and fallback
policy of one request, a pure value the transport's IO loop drives (architecture.md habit 5).

The transport sends to :attr:`Plan.first`; every attempt that ends before the first body byte
becomes a :class:`Failure` handed to :meth:`Plan.after`, which answers :class:`Retry` (where,
after how many seconds) or :class:`GiveUp` (the error to raise). Within one request:

* a host that cannot be reached (refused connection, connect timeout, unknown name) or that
  answers 404 (a gateway without this path) is dropped for the rest of the request; the next
  live host is tried at once, with no wait and no retry counted;
* 5xx moves on to the next live host (round robin: a host that answered 5xx may come back)
  after a backoff; 429 and a connection closed without an answer retry the same host;
* a wait is the response's Retry-After when it has one, else capped exponential backoff with
  full jitter; a Retry-After beyond RETRY_AFTER_CAP_S drops that host (the kernel is never
  blocked that long), and when no host is left the error says how long the server asks to wait;
* at most ``max_retries`` waits; any other status, or a failure that must not be repeated
  (no answer within the read timeout: the request may have been processed), gives up at once.

Giving up raises the last real cause (the last failure, but a host that could not be reached
never hides what another one answered) with the URL it came from, how many tries it took, how
long the server asks to wait, and then what every other URL answered, all on one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from .errors import ApiError, EvoMagicError, annotate

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FALLBACK_STATUSES = frozenset({500, 502, 503, 504})
GONE_STATUSES = frozenset({404})  # this base URL has no such path: a gateway without it

Kind = Literal["unreachable", "closed", "answered", "final"]


def backoff_delay(attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): Retry-After when the server gave
    one (capped), else full-jitter exponential backoff capped at BACKOFF_CAP_S."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    return rng() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))


@dataclass(frozen=True)
class Failure:
    """One attempt that ended before the first body byte.

    ``kind``: "unreachable" (no connection), "closed" (connected, closed without an answer),
    "answered" (an HTTP error status: ``error`` is an ApiError) or "final" (never repeated).
    ``reason`` is what this URL did in a few words; ``at`` the moment the answer came.
    """

    base: str
    url: str
    kind: Kind
    error: EvoMagicError
    reason: str = ""
    at: datetime | None = None
    cause: BaseException | None = field(default=None, compare=False, repr=False)

    @classmethod
    def answered(cls, base: str, url: str, error: ApiError, at: datetime | None = None) -> Failure:
        return cls(base, url, "answered", error, f"HTTP {error.status} {error.message}", at)

    @property
    def status(self) -> int | None:
        return self.error.status if isinstance(self.error, ApiError) else None

    @property
    def retry_after(self) -> float | None:
        return self.error.retry_after if isinstance(self.error, ApiError) else None

    @property
    def too_long(self) -> bool:
        """The server asks for a wait longer than we block the kernel for."""
        return self.retry_after is not None and self.retry_after > RETRY_AFTER_CAP_S


@dataclass(frozen=True)
class Retry:
    """Send again to ``base`` after ``delay`` seconds; ``counted`` when it used up a retry."""

    base: str
    delay: float
    counted: bool = True


@dataclass(frozen=True)
class GiveUp:
    error: EvoMagicError


class Plan:
    """The retry and fallback decisions of one request over ``bases``, starting at ``start``."""

    def __init__(
        self, bases: Sequence[str], *, start: int = 0, max_retries: int = 3, rng: Callable[[], float]
    ) -> None:
        if not bases:
            raise ValueError("a plan needs at least one base URL")
        start %= len(bases)
        self.order = [*bases[start:], *bases[:start]]
        self.max_retries = max_retries
        self.rng = rng
        self.dropped: set[str] = set()
        self.failures: list[Failure] = []
        self.retries = 0

    @property
    def first(self) -> str:
        return self.order[0]

    def after(self, failure: Failure) -> Retry | GiveUp:
        """What to do after ``failure``."""
        self.failures.append(failure)
        if failure.kind == "unreachable":
            return self._drop(failure.base)
        if failure.kind == "closed":
            return self._retry(failure.base, None)
        if failure.kind == "final" or failure.status is None:
            return self._give_up()
        if failure.status in GONE_STATUSES or (failure.status in RETRY_STATUSES and failure.too_long):
            return self._drop(failure.base)
        if failure.status not in RETRY_STATUSES:
            return self._give_up()
        same = failure.status not in FALLBACK_STATUSES
        return self._retry(failure.base if same else self._next(failure.base), failure.retry_after)

    def _next(self, base: str) -> str | None:
        """The first live base after ``base`` in round-robin order (``base`` itself if it is the
        only one left), or None."""
        i = self.order.index(base)
        for candidate in [*self.order[i + 1 :], *self.order[: i + 1]]:
            if candidate not in self.dropped:
                return candidate
        return None

    def _drop(self, base: str) -> Retry | GiveUp:
        self.dropped.add(base)
        after = self._next(base)
        return self._give_up() if after is None else Retry(after, 0.0, counted=False)

    def _retry(self, base: str | None, retry_after: float | None) -> Retry | GiveUp:
        if base is None or self.retries >= self.max_retries:
            return self._give_up()
        self.retries += 1
        return Retry(base, backoff_delay(self.retries, retry_after, self.rng))

    def _give_up(self) -> GiveUp:
        # the last real cause: a host that could not be reached never hides what another said
        answers = [f for f in self.failures if f.kind != "unreachable"]
        last = answers[-1] if answers else self.failures[-1]
        tries = sum(f.base == last.base for f in self.failures)
        where: list[str] = []
        others = {f.base: f for f in self.failures if f.base != last.base}  # each one's last answer
        if last.base not in str(last.error):
            where.append(last.url)
        if tries > 1:
            where.append(f"{tries} tries")
        note = (f" ({', '.join(where)})" if where else "") + _wait(last)
        note += "".join(f"; {f.url}: {f.reason}{_wait(f, short=True)}" for f in others.values())
        return GiveUp(annotate(last.error, note))


def _wait(failure: Failure, *, short: bool = False) -> str:
    """What the server asks for when its Retry-After is beyond the cap, else ""."""
    if not failure.too_long or failure.retry_after is None:
        return ""
    seconds = failure.retry_after
    text = f"asks to wait {duration(seconds)}"
    if failure.at is not None:
        text += f" (until {until(failure.at, seconds)})"
    return f", {text}" if short else f" — the server {text}; try again then"


def duration(seconds: float) -> str:
    """``45 seconds``, ``60 minutes``, ``2 hours``, ``1.5 hours``."""
    if seconds < 90:
        return f"{math.ceil(seconds)} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600, 1):g} hours"


def until(at: datetime, seconds: float) -> str:
    """The local wall-clock time ``seconds`` after ``at`` (``14:05 CEST``), with the date when
    that is another day."""
    start = at.astimezone()
    end = (at + _delta(seconds)).astimezone()
    fmt = "%H:%M %Z" if end.date() == start.date() else "%Y-%m-%d %H:%M %Z"
    return end.strftime(fmt)


def _delta(seconds: float) -> timedelta:
    return timedelta(seconds=min(seconds, 10 * 365 * 86400.0))  # a nonsense header stays a date


__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "FALLBACK_STATUSES",
    "RETRY_AFTER_CAP_S",
    "RETRY_STATUSES",
    "Failure",
    "GiveUp",
    "Plan",
    "Retry",
    "backoff_delay",
]
