"""Admission of requests: the server-side latency and the concurrency limit (ASGI middleware).

A request is in flight from its arrival until its response is complete (or its client is
gone), as DeepSeek counts it; one arriving while ``State.max_concurrency`` are in flight is
refused at once with 429, the vendor's error body and ``Retry-After`` (``State.limit_retry_after``,
1 s by default), so a client's back-off is exercised for real. An admitted request then waits
``State.latency`` seconds before anything else happens (before its first byte, on both
protocols, streamed or not).
Everything runs on the server's one event loop, so the counts are exact without a lock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import wire
from .state import State


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
            after = f"{state.limit_retry_after:g}"
            refusal = wire.error(
                429,
                f"Rate Limit Reached: more than {limit} concurrent requests; retry after {after} s",
                "rate_limit_error",
                anthropic=scope["path"].endswith("/messages"),
                headers={"Retry-After": after},
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
