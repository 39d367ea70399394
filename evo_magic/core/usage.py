"""Token usage, normalized across both protocols (pure).

DeepSeek's OpenAI-style usage reports ``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens``
(and the OpenAI duplicate ``prompt_tokens_details.cached_tokens``); the Anthropic protocol
reports ``input_tokens`` *excluding* ``cache_read_input_tokens``. Both land here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return int(value)
    return None


@dataclass(frozen=True)
class Usage:
    """Tokens of one request. ``reasoning_tokens`` is None when the API did not say."""

    prompt_tokens: int = 0
    cache_hit_tokens: int = 0
    cache_miss_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_hit_ratio(self) -> float | None:
        return self.cache_hit_tokens / self.prompt_tokens if self.prompt_tokens else None

    @classmethod
    def from_openai(cls, raw: Mapping[str, Any]) -> Usage:
        prompt = _int(raw.get("prompt_tokens")) or 0
        hit = _int(raw.get("prompt_cache_hit_tokens"))
        if hit is None:
            details = raw.get("prompt_tokens_details")
            hit = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else None
        hit = hit or 0
        miss = _int(raw.get("prompt_cache_miss_tokens"))
        if miss is None:
            miss = max(prompt - hit, 0)
        if not prompt:
            prompt = hit + miss
        cdetails = raw.get("completion_tokens_details")
        reasoning = _int(cdetails.get("reasoning_tokens")) if isinstance(cdetails, Mapping) else None
        return cls(prompt, hit, miss, _int(raw.get("completion_tokens")) or 0, reasoning)

    @classmethod
    def from_anthropic(cls, raw: Mapping[str, Any]) -> Usage:
        fresh = (_int(raw.get("input_tokens")) or 0) + (_int(raw.get("cache_creation_input_tokens")) or 0)
        hit = _int(raw.get("cache_read_input_tokens")) or 0
        return cls(fresh + hit, hit, fresh, _int(raw.get("output_tokens")) or 0, None)

    @classmethod
    def total(cls, usages: Iterable[Usage | None]) -> Usage | None:
        """The sum of the reported usages (None entries skipped); None when none was reported.
        ``reasoning_tokens`` stays None unless some usage reported it."""
        known = [u for u in usages if u is not None]
        if not known:
            return None
        reasoning = [u.reasoning_tokens for u in known if u.reasoning_tokens is not None]
        return cls(
            sum(u.prompt_tokens for u in known),
            sum(u.cache_hit_tokens for u in known),
            sum(u.cache_miss_tokens for u in known),
            sum(u.completion_tokens for u in known),
            sum(reasoning) if reasoning else None,
        )

    def merged(self, other: Usage) -> Usage:
        """Fields of ``other`` that are set (non-zero / non-None) win; used for Anthropic
        streams where input counts come first and output counts later."""
        return Usage(
            other.prompt_tokens or self.prompt_tokens,
            other.cache_hit_tokens or self.cache_hit_tokens,
            other.cache_miss_tokens or self.cache_miss_tokens,
            other.completion_tokens or self.completion_tokens,
            other.reasoning_tokens if other.reasoning_tokens is not None else self.reasoning_tokens,
        )
