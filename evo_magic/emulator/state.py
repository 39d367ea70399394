"""What the emulator remembers between requests: settings, received bodies, the prefix cache,
the reasoning it handed out (for the echo rule) and the faults queued for the next requests."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .tokens import Billing, PrefixCache

FAULTS = (
    "429",
    "500",
    "502",
    "503",
    "401",
    "402",
    "context_length",
    "reset",
    "stall",
    "malformed",
    "error_event",
    "finish",
    "gzip",
    "say",
)
# What each path serves (Emulator.open_route / close_route change it; any other path is a 404):
# EvoLink's documented routes, DeepSeek's own chat path, and DeepSeek's beta base
# (https://api.deepseek.com/beta): chat with prefix continuation, and FIM completion.
ROUTES = {
    "/v1/chat/completions": "chat",
    "/chat/completions": "chat",
    "/v1/messages": "messages",
    "/beta/chat/completions": "beta_chat",
    "/beta/completions": "fim",
}
ROUTE_KINDS = ("chat", "beta_chat", "messages", "fim")
MAX_REQUESTS = 10_000  # received bodies kept for tests; the oldest half goes beyond this
ANSWERS_PER_KEY = 1024  # reasoning remembered per API key for the echo rule


class InjectedReset(Exception):
    """Raised inside a stream to drop the connection mid-answer (a test fault)."""


@dataclass
class Fault:
    """A failure injected into one request (``Emulator.fail_next``).

    ``kind`` is one of FAULTS: an HTTP status before the body ("429", "5xx", "401", "402",
    "context_length"), a mid-stream failure after ``after`` chunks ("reset", "stall" for
    ``seconds``, "malformed" event, "error_event"), "finish" (the answer ends with ``finish``
    as its finish reason), "gzip" (the body says ``Content-Encoding: gzip`` but turns into
    bytes that are not gzip after ``after`` chunks, or at once when not streamed; with
    ``status``, an error body of that status that is not gzip at all), or "say" (a stream's
    thinking and answer open with ``text``, one UTF-16 code unit per event: a proxy that cuts
    text at UTF-16 boundaries, or makes the model repeat what it should not). ``retry_after``
    goes into the 429's Retry-After header: seconds, or a string sent as it is (an HTTP date).
    """

    kind: str
    after: int = 5
    seconds: float = 30.0
    retry_after: float | str | None = 1.0
    finish: str | None = None
    status: int | None = None
    text: str = ""


def answer_hash(content: str | None, calls: Iterable[Mapping[str, Any]] | None) -> str:
    """Identity of an assistant answer: its text plus its tool calls (name and arguments)."""
    functions = [{"name": c.get("name"), "arguments": c.get("arguments")} for c in calls or ()]
    raw = (content or "") + "\x00" + json.dumps(functions, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class ReasoningMemory:
    """Per API key, the reasoning_content of each answer the emulator gave, by answer hash
    (bounded: the oldest answers are forgotten first)."""

    def __init__(self, per_key: int = ANSWERS_PER_KEY) -> None:
        self.per_key = per_key
        self._by_key: dict[str, OrderedDict[str, str]] = {}

    def remember(self, key: str, answer: str, reasoning: str) -> None:
        seen = self._by_key.setdefault(key, OrderedDict())
        seen[answer] = reasoning
        seen.move_to_end(answer)
        while len(seen) > self.per_key:
            seen.popitem(last=False)

    def expected(self, key: str, answer: str) -> str | None:
        """The reasoning handed out with ``answer`` under ``key``, or None if it is not ours."""
        seen = self._by_key.get(key)
        return None if seen is None else seen.get(answer)


@dataclass
class State:
    """Shared by every request of one emulator (the app reads it; tests may inspect it)."""

    tokens_per_second: float | None = None
    first_token_delay: float = 0.0
    latency: float = 0.0  # seconds before the first byte of every response
    max_concurrency: int | None = None  # above it: 429 (admission.py)
    limit_retry_after: float = 1.0  # the Retry-After (seconds) of a 429 for the concurrency limit
    in_flight: int = 0
    peak_in_flight: int = 0
    rejected: int = 0  # requests refused with 429 for the concurrency limit
    exact_tokens: bool | None = None  # usage by DeepSeek's tokenizer: None = when installed
    api_keys: set[str] | None = None
    requests: list[Any] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    cache: PrefixCache = field(default_factory=PrefixCache)
    reasoning: ReasoningMemory = field(default_factory=ReasoningMemory)
    routes: dict[str, str] = field(default_factory=lambda: dict(ROUTES))  # path -> one of ROUTE_KINDS

    def __post_init__(self) -> None:
        self.billing = Billing(self.exact_tokens)

    def received(self, body: Any) -> None:
        self.requests.append(body)
        if len(self.requests) > MAX_REQUESTS:
            del self.requests[: MAX_REQUESTS // 2]

    def next_fault(self) -> Fault | None:
        return self.faults.popleft() if self.faults else None
