"""Prefix continuation (pure): the model goes on from the start of an answer it is given.

OpenAI protocol (DeepSeek's chat prefix completion, beta): the last message is the
assistant's with ``"prefix": true``; its ``content`` is the start of the answer and, in
thinking mode, its ``reasoning_content`` the start of the thinking. Anthropic protocol: the
last message is an assistant turn (a prefill): its text blocks are the start of the answer,
its thinking blocks the start of the thinking. Either way only the continuation goes back,
as DeepSeek (and Anthropic) do; the client joins it to what it sent.

What the emulator continues with (:func:`continued`), from the answer it would give without
the prefix (the same conversation, so the same :class:`~evo_magic.emulator.answers.Plan`):

- reasoning: none when thinking is off, or when the prefix has answer text (the thinking is
  over: reasoning ``""``); the rest of its own reasoning when the prefix's reasoning starts it
  (an answer cut at max_tokens in its thinking); new thoughts after reasoning of one's own;
- answer: the rest of its own answer when the prefix starts it (an answer cut in its text:
  cut + continuation is the whole answer); inside an open code fence, code in the fence's
  language, then the closing fence and a sentence (so ``stop: ["```"]`` gives bare code);
  after any other text, the answer itself. Tool calls only when the answer is its own.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import sections
from .answers import Plan

_FENCE = re.compile(r"^```", re.M)
_BLOCK = re.compile(r"```(\w*)\n(.*?)\n```", re.S)
_SNIPPETS = {
    "sql": "SELECT {key}, COUNT(*) AS n\nFROM {table}\nGROUP BY {key}\nORDER BY n DESC;",
    "bash": 'echo "{verb} {key}"\nls -1 | wc -l',
    "javascript": "function {name}(values) {{\n  return values.reduce((a, b) => a + b, 0);\n}}",
    "json": '{{\n  "{key}": {{"{verb}": true}}\n}}',
}
_ALIASES = {"sh": "bash", "shell": "bash", "zsh": "bash", "js": "javascript", "ts": "javascript", "py": "python"}


@dataclass(frozen=True)
class Prefix:
    """The start of the answer (``content``) and of the thinking (``reasoning``, None: not given)."""

    content: str
    reasoning: str | None = None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def openai_prefix(messages: Sequence[Mapping[str, Any]]) -> Prefix | None:
    """The prefix of a Chat Completions request: its last message, if that is an assistant
    message with ``prefix: true``."""
    last = messages[-1] if messages else None
    if not isinstance(last, Mapping) or last.get("role") != "assistant" or last.get("prefix") is not True:
        return None
    reasoning = last.get("reasoning_content")
    return Prefix(_text(last.get("content")), reasoning if isinstance(reasoning, str) else None)


def anthropic_prefix(messages: Sequence[Mapping[str, Any]]) -> Prefix | None:
    """The prefill of a Messages request: its last message, if that is an assistant turn."""
    last = messages[-1] if messages else None
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return None
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    thoughts = [str(b.get("thinking", "")) for b in blocks if isinstance(b, Mapping) and b.get("type") == "thinking"]
    return Prefix(_text(content), "".join(thoughts) if thoughts else None)


def _rng(*parts: str) -> random.Random:
    return random.Random(int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16], 16))


def continued(base: Plan, prefix: Prefix, *, thinking: bool) -> Plan:
    """What follows ``prefix``, given the answer ``base`` the conversation gets without it."""
    rng = _rng(prefix.content, prefix.reasoning or "", base.content)
    key = sections.keyword(rng, base.content[:400])
    return Plan(
        _answer(base, prefix.content, rng, key),
        _reasoning(base, prefix, thinking, rng, key),
        base.tool_calls if base.content.startswith(prefix.content) else [],
    )


def _reasoning(base: Plan, prefix: Prefix, thinking: bool, rng: random.Random, key: str) -> str | None:
    if not thinking:
        return None
    if prefix.content:
        return ""
    given, own = prefix.reasoning or "", base.reasoning or ""
    if own.startswith(given):
        return own[len(given) :]
    return " " + " ".join(sections.sentence(rng, key) for _ in range(3))


def _answer(base: Plan, start: str, rng: random.Random, key: str) -> str:
    if base.content.startswith(start):
        return base.content[len(start) :]
    fences = _FENCE.findall(start)
    if len(fences) % 2:
        opened = start[start.rfind("```") + 3 :].split("\n", 1)[0].strip().lower()
        lead = "" if start.endswith("\n") else "\n"
        closing = f"{rng.choice(sections.VERBS).capitalize()} it on a small input before relying on it."
        return f"{lead}{_code(base.content, opened, rng, key)}\n```\n\n{closing}"
    if not start or start[-1].isspace():
        return base.content
    return ("\n\n" if start[-1] in ".:!?" else " ") + base.content


def _code(answer: str, language: str, rng: random.Random, key: str) -> str:
    """Code in ``language``: a block of the answer in it if there is one, else a snippet."""
    language = _ALIASES.get(language, language)
    for found, body in _BLOCK.findall(answer):
        if _ALIASES.get(found, found) == (language or "python"):
            return str(body)
    verb = rng.choice(sections.VERBS)
    name = f"{verb}_{key[:12]}"  # keywords are letters only
    template = _SNIPPETS.get(language)
    if template is None:  # python, and any language the emulator has no snippet for
        return f"def {name}(values):\n    return sorted(values)\n\n\nprint({name}([3, 1, 2]))"
    return template.format(key=key, table=f"{key}_table", verb=verb, name=name)
