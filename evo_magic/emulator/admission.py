"""Admission of requests: the server-side latency and the concurrency limit (ASGI middleware).

A request is in flight from its arrival until its response is complete (or its client is
gone), as DeepSeek counts it; one arriving while ``State.max_concurrency`` are in flight is
refused at once with 429, the vendor's error body and ``Retry-After: 1``, so a client's
back-off is exercised for real. An admitted request then waits ``State.latency`` seconds
before anything else happens (before its first byte, on both protocols, streamed or not).
Everything runs on the server's one event loop, so the counts are exact without a lock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import wire
from .state import State

RETRY_AFTER_S = 1  # what a refused request is told to wait


class Admission:
    """Wraps the ASGI ``app``: refuses above the limit, delays by the latency, counts."""

    def __init__(self, app: Any, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        limit = state.max_concurrency
        if limit is not None and state.in_flight >= limit:
            state.rejected += 1
            refusal = wire.error(
                429,
                f"Rate Limit Reached: more than {limit} concurrent requests; retry after {RETRY_AFTER_S} s",
                "rate_limit_error",
                anthropic=scope["path"].endswith("/messages"),
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await refusal(scope, receive, send)
            return
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            if state.latency > 0:
                await asyncio.sleep(state.latency)
            await self.app(scope, receive, send)
        finally:
            state.in_flight -= 1
