"""A deterministic tokenizer approximation and the prefix cache of the emulator.

Tokens are runs matched by ``\\s*\\w+ | \\s*[^\\w\\s] | \\s+``: a word or one punctuation mark
with the whitespace before it. Joining the tokens gives the text back exactly, so answers can
be streamed token by token. Real DeepSeek tokens are similar in count for English text.
"""

from __future__ import annotations

import re
from collections import deque

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
CACHE_UNIT = 64
HISTORY_PER_KEY = 256


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def count(text: str) -> int:
    return len(tokenize(text))


class PrefixCache:
    """Per API key, earlier token sequences; a hit is the longest shared prefix with any of
    them, floored to the cache unit (64 tokens), as DeepSeek's disk cache reports it."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[tuple[str, ...]]] = {}

    def hit(self, key: str, tokens: list[str]) -> int:
        best = 0
        for seq in self._seen.get(key, ()):
            n = 0
            limit = min(len(seq), len(tokens))
            while n < limit and seq[n] == tokens[n]:
                n += 1
            best = max(best, n)
        return best // CACHE_UNIT * CACHE_UNIT

    def remember(self, key: str, *sequences: list[str]) -> None:
        store = self._seen.setdefault(key, deque(maxlen=HISTORY_PER_KEY))
        for seq in sequences:
            store.append(tuple(seq))
