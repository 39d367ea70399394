"""A deterministic tokenizer approximation and the prefix cache of the emulator.

Tokenizer: a token is the whitespace before it (if any) plus either a run of 1 to 12 word
characters or one other character; trailing whitespace is a token of its own::

    \\s*\\w{1,12} | \\s*[^\\w\\s] | \\s+

So ``"Hello, world!\\n"`` is ``["Hello", ",", " world", "!", "\\n"]``. Joining the tokens
gives the text back exactly, so an answer streams token by token, and the count is close to
DeepSeek's for English prose (about 4-5 characters a token); the 12-character cap keeps
long identifiers, numbers and blobs from counting as one token.

Prefix cache: DeepSeek's context cache reports hits in whole 64-token units of the longest
prefix shared with an earlier request. The cache hashes each sequence in 64-token blocks,
chained (block k's hash covers blocks 0..k), so a lookup walks the new prompt's blocks until
one is unknown: linear in the prompt, independent of how many sequences are remembered.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator, Sequence

_TOKEN = re.compile(r"\s*\w{1,12}|\s*[^\w\s]|\s+")
CACHE_UNIT = 64
SEQUENCES_PER_KEY = 256


def tokenize(text: str | None) -> list[str]:
    """The tokens of ``text``; ``"".join(tokenize(t)) == t``."""
    return _TOKEN.findall(text or "")


def count(text: str | None) -> int:
    """How many tokens ``text`` has."""
    return len(tokenize(text))


def _blocks(tokens: Sequence[str], unit: int) -> Iterator[int]:
    """Chained hashes of the whole ``unit``-token blocks of ``tokens``."""
    h = 0
    for start in range(0, len(tokens) - unit + 1, unit):
        h = hash((h, tuple(tokens[start : start + unit])))
        yield h


class PrefixCache:
    """Per API key, the last ``per_key`` token sequences seen (prompts, and prompts followed
    by their completion). ``hit`` is the longest prefix shared with any of them, in whole
    cache units, as DeepSeek reports ``prompt_cache_hit_tokens``."""

    def __init__(self, unit: int = CACHE_UNIT, per_key: int = SEQUENCES_PER_KEY) -> None:
        self.unit = unit
        self.per_key = per_key
        self._sequences: dict[str, deque[list[int]]] = {}
        self._known: dict[str, Counter[int]] = {}

    def hit(self, key: str, tokens: Sequence[str]) -> int:
        known = self._known.get(key)
        if not known:
            return 0
        n = 0
        for h in _blocks(tokens, self.unit):
            if h not in known:
                break
            n += 1
        return n * self.unit

    def remember(self, key: str, *sequences: Sequence[str]) -> None:
        store = self._sequences.setdefault(key, deque())
        known = self._known.setdefault(key, Counter())
        for seq in sequences:
            blocks = list(_blocks(seq, self.unit))
            store.append(blocks)
            known.update(blocks)
            while len(store) > self.per_key:
                for h in store.popleft():
                    known[h] -= 1
                    if known[h] <= 0:
                        del known[h]
