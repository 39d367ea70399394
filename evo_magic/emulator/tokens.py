"""The emulator's token counts and its prefix cache.

Streaming: an answer goes out token by token in the approximate tokens of
:func:`evo_magic.core.tokens.approximate_tokens` (a token is the whitespace before it plus a
run of 1 to 12 word characters or one other character; joined they give the text back), so
``"Hello, world!\\n"`` streams as ``["Hello", ",", " world", "!", "\\n"]``.

Usage: counted as DeepSeek bills it — its own tokenizer and chat template, through
:mod:`evo_magic.core.tokens` — when that is installed (``pip install "evo_magic[batch]"``),
else with the approximate tokens (:class:`Billing`). The tokenizer is loaded once per process,
on first use (``Emulator.start`` warms it up in the background), so start-up stays fast.

Prefix cache: DeepSeek's context cache reports hits in whole 64-token units of the longest
prefix shared with an earlier request. The cache hashes each sequence in 64-token blocks,
chained (block k's hash covers blocks 0..k), so a lookup walks the new prompt's blocks until
one is unknown: linear in the prompt, independent of how many sequences are remembered.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

from ..core.tokens import HIDDEN, TOOL_CALL_TOKENS, Tokenizer, tokenizer
from ..core.tokens import approximate_tokens as tokenize

CACHE_UNIT = 64
SEQUENCES_PER_KEY = 256

__all__ = ["CACHE_UNIT", "Billing", "PrefixCache", "count", "tokenize"]


def count(text: str | None) -> int:
    """How many approximate tokens ``text`` has (the emulator's sizes and streaming)."""
    return len(tokenize(text))


class Billing:
    """How usage is counted: DeepSeek's tokenizer (``exact``: True, or None when installed)
    or the approximation (False, or None without it)."""

    def __init__(self, exact: bool | None = None) -> None:
        self.wanted = exact

    @property
    def counter(self) -> Tokenizer | None:
        if self.wanted is False:
            return None
        found = tokenizer(exact=bool(self.wanted))
        return found if found.exact else None

    def warm_up(self) -> None:
        """Load the tokenizer now (called in a background thread at start)."""
        _ = self.counter

    def prompt(self, body: Mapping[str, Any], approximate: list[str], hidden: int) -> tuple[list[Any], list[Any]]:
        """(the billed prompt, the part of it a later request can hit): DeepSeek's token ids,
        or ``approximate`` followed by ``hidden`` tokens the client never sees."""
        counter = self.counter
        if counter is None:
            return approximate + ["<|think|>"] * hidden, approximate
        billed = counter.prompt_ids(body)
        seen = len(billed)
        while seen and billed[seen - 1] == HIDDEN:
            seen -= 1
        return billed, billed[:seen]

    def prefixed(self, billed: Sequence[Any], reasoning: str | None, content: str) -> list[Any]:
        """The billed prompt of a prefix continuation: ``billed`` (the history's prompt, open
        for the assistant) followed by the prefix's reasoning and text, the turn the model
        goes on writing (DeepSeek's billing of a prefix is not recorded: an assumption)."""
        counter = self.counter
        texts = [reasoning or "", content]
        ids = [tokenize(t) for t in texts] if counter is None else counter.encode_many(texts)
        return [*billed, *ids[0], *ids[1]]

    def fim_prompt(self, prompt: str, suffix: str) -> list[Any]:
        """The billed prompt of a FIM request: the prompt and the suffix between DeepSeek's FIM
        markers (``<｜fim▁begin｜>`` prompt ``<｜fim▁hole｜>`` suffix ``<｜fim▁end｜>``, after the
        begin-of-sentence token when counted exactly; not recorded, so an assumption)."""
        counter = self.counter
        if counter is None:
            return ["<|fim_begin|>", *tokenize(prompt), "<|fim_hole|>", *tokenize(suffix), "<|fim_end|>"]
        ids, tail = counter.encode_many([prompt, suffix])
        return ["<bos>", "<fim_begin>", *ids, "<fim_hole>", *tail, "<fim_end>"]

    def history(self, billed: Sequence[Any], answer: Mapping[str, Any], approximate: list[str]) -> list[Any]:
        """The token sequence that a follow-up echoing ``answer`` (an assistant message) starts
        with, given the ``billed`` prompt: what the cache remembers of a prompt and its answer."""
        counter = self.counter
        if counter is None:
            return approximate
        return [*billed[: _open_end(billed)], *counter.message_ids(answer)]

    def completion(self, reasoning: str | None, content: str, calls: Sequence[Mapping[str, Any]],
                   approximate: tuple[int, int], max_tokens: int | None, cut: bool) -> tuple[int, int]:
        """(completion tokens, reasoning tokens) of an answer; ``approximate`` is the
        approximate pair. An answer ``cut`` at ``max_tokens`` used exactly that many."""
        counter = self.counter
        if counter is None:
            return approximate
        texts = [reasoning or "", content, *(f"{c.get('name')}{c.get('arguments')}" for c in calls)]
        counts = [len(ids) for ids in counter.encode_many(texts)]
        thought = counts[0]
        total = sum(counts) + TOOL_CALL_TOKENS * len(calls)
        if max_tokens is not None and (cut or total > max_tokens):
            total = max_tokens
            if cut and not content and not calls:  # cut in the reasoning: all of it was reasoning
                thought = total
        return total, min(thought, total)


def _open_end(ids: Sequence[int]) -> int:
    """Where the template's final ``<｜Assistant｜><think>`` (and hidden tokens) start."""
    end = len(ids)
    while end and ids[end - 1] == HIDDEN:
        end -= 1
    return max(end - 2, 0)


def _blocks(tokens: Sequence[Hashable], unit: int) -> Iterator[int]:
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

    def hit(self, key: str, tokens: Sequence[Hashable]) -> int:
        known = self._known.get(key)
        if not known:
            return 0
        n = 0
        for h in _blocks(tokens, self.unit):
            if h not in known:
                break
            n += 1
        return n * self.unit

    def remember(self, key: str, *sequences: Sequence[Hashable]) -> None:
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
