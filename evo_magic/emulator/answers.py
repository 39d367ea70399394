"""Deterministic answers derived from the conversation (pure).

The same conversation always gets the same answer; different prompts get different ones.
Answers exercise real markdown (bold, headings, lists, a fenced code block, a table), answer
simple arithmetic, honour a requested length ("... 2000 words", "... 20000 characters"),
answer JSON in JSON mode, and call offered tools when the prompt names them.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_ARITH = re.compile(r"(-?\d+(?:\.\d+)?)\s*([+\-*/×x])\s*(-?\d+(?:\.\d+)?)")
_LENGTH = re.compile(r"(\d[\d,]*)\s*(words|characters|chars)", re.I)
_TOPICS = [
    "data quality",
    "reproducibility",
    "vectorised operations",
    "memory layout",
    "sampling bias",
    "missing values",
    "feature scaling",
    "cross-validation",
    "indexing",
    "caching",
    "type hints",
    "error handling",
    "plotting",
    "joins",
    "time zones",
    "outliers",
]
_VERBS = ["check", "measure", "document", "simplify", "profile", "validate", "compare", "plot"]


@dataclass
class Plan:
    """What the emulated model says: protocol encoders turn it into wire bodies."""

    content: str
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _arithmetic(question: str) -> str | None:
    m = _ARITH.search(question)
    if not m or len(question) > 80:
        return None
    a, op, b = float(m.group(1)), m.group(2), float(m.group(3))
    ops = {"+": a + b, "-": a - b, "*": a * b, "x": a * b, "×": a * b, "/": a / b if b else None}
    value = ops.get(op)
    if value is None:
        return "Division by zero is undefined."
    shown = int(value) if float(value).is_integer() else round(value, 6)
    return f"**{shown}**\n\n{m.group(1)} {op} {m.group(3)} = {shown}."


def _section(rng: random.Random, question: str, index: int) -> str:
    topic = rng.choice(_TOPICS)
    verb = rng.choice(_VERBS)
    words = [w for w in re.findall(r"[A-Za-z]{4,}", question)] or ["data"]
    key = rng.choice(words).lower()
    items = [
        f"{rng.choice(_VERBS).capitalize()} the {rng.choice(_TOPICS)} of `{key}` first." for _ in range(3)
    ]
    steps = [f"{v.capitalize()} {rng.choice(_TOPICS)} before moving on." for v in rng.sample(_VERBS, 3)]
    var = re.sub(r"\W", "_", key)[:12] or "x"
    code = (
        f"def {verb}_{var}(values):\n"
        f'    """{verb.capitalize()} {topic} for {key}."""\n'
        f"    total = sum(values)\n"
        f"    return total / max(len(values), 1)\n\n"
        f"print({verb}_{var}([{index}, {index + 2}, {index + 4}]))"
    )
    rows = "\n".join(
        f"| {t} | {rng.randint(1, 99)} % | {rng.choice(_VERBS)} |" for t in rng.sample(_TOPICS, 3)
    )
    return (
        f"### {index}. {topic.capitalize()}\n\n"
        f"When you {verb} **{topic}**, start small and keep each step visible.\n\n"
        + "\n".join(f"- {i}" for i in items)
        + "\n\n"
        + "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))
        + f"\n\n```python\n{code}\n```\n\n| aspect | share | action |\n| --- | --- | --- |\n{rows}\n"
    )


def _target_length(question: str) -> int | None:
    m = _LENGTH.search(question)
    if not m:
        return None
    n = int(m.group(1).replace(",", ""))
    return min(n * 6 if m.group(2).lower() == "words" else n, 2_000_000)


def _reasoning(rng: random.Random, question: str, length: int) -> str:
    short = " ".join(question.split())[:120]
    base = (
        f'The user asks: "{short}". Let me think about what matters here. '
        f"I should cover {rng.choice(_TOPICS)} and {rng.choice(_TOPICS)}, "
        "give a concrete example, and keep the answer well structured."
    )
    parts = [base]
    while sum(len(p) for p in parts) < length:
        parts.append(
            f"Next, consider {rng.choice(_TOPICS)}: {rng.choice(_VERBS)} it, then "
            f"{rng.choice(_VERBS)} the result against {rng.choice(_TOPICS)}."
        )
    return " ".join(parts)


def _tool_args(schema: Mapping[str, Any], question: str, rng: random.Random) -> dict[str, Any]:
    props = schema.get("properties") or {}
    all_words = re.findall(r"[A-Za-z][\w-]*", question)
    words = [w for w in all_words[1:] if w[0].isupper()] or [w for w in all_words if len(w) > 2] or ["example"]
    args: dict[str, Any] = {}
    for i, (name, spec) in enumerate(props.items()):
        if name not in (schema.get("required") or []) and i > 0:
            continue
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        if isinstance(spec, Mapping) and spec.get("enum"):
            args[name] = spec["enum"][0]
        elif kind == "integer":
            args[name] = rng.randint(1, 9)
        elif kind == "number":
            args[name] = round(rng.uniform(1, 9), 2)
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = [words[0]]
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = words[min(i, len(words) - 1)]
    return args


def plan(
    conversation: Sequence[tuple[str, str]],
    *,
    thinking: bool,
    tools: Sequence[Mapping[str, Any]] = (),
    json_mode: bool = False,
    choice: int = 0,
    call_prefix: str = "call",
) -> Plan:
    """The answer to ``conversation`` (role, text pairs; tool results have role "tool")."""
    seed = "\x1e".join(f"{r}:{t}" for r, t in conversation) + f"#{choice}"
    rng = _rng(seed)
    question = next((t for r, t in reversed(conversation) if r == "user"), "")
    last_role = conversation[-1][0] if conversation else "user"
    target = _target_length(question)
    reasoning = _reasoning(rng, question, (target or 400) // 4) if thinking else None

    if last_role == "tool":
        results = [t for r, t in conversation[::-1] if r == "tool"]
        content = (
            "Based on the tool results:\n\n"
            + "\n".join(f"- `{r[:200]}`" for r in reversed(results[:8]))
            + f"\n\nSo the answer to “{question[:100]}” follows from these values."
        )
        return Plan(content, reasoning)

    if tools and last_role == "user":
        lowered = question.lower()
        named = []
        for t in tools:
            fn = t.get("function", t)
            if fn.get("name", "").lower() in lowered:
                named.append(fn)
        if named:
            calls = [
                {
                    "id": f"{call_prefix}_{i:02d}_{hashlib.sha1((seed + str(i)).encode()).hexdigest()[:24]}",
                    "name": fn["name"],
                    "arguments": json.dumps(
                        _tool_args(fn.get("parameters") or fn.get("input_schema") or {}, question, rng)
                    ),
                }
                for i, fn in enumerate(named)
            ]
            return Plan(f"I'll call {', '.join(c['name'] for c in calls)} to find out.", reasoning, calls)

    if json_mode:
        words = re.findall(r"[A-Za-z]{4,}", question)[:5]
        content = json.dumps(
            {"question": question[:200], "keywords": words, "score": rng.randint(1, 100), "ok": True}
        )
        return Plan(content, reasoning)

    simple = _arithmetic(question)
    if simple is not None and target is None:
        return Plan(simple, reasoning)

    short_q = " ".join(question.split())
    short_q = short_q if len(short_q) <= 160 else short_q[:157] + "…"
    parts = [
        f"**{rng.choice(['Good question', 'Here is an overview', 'In short'])}.** You asked: “{short_q}”.\n"
    ]
    index = 1
    goal = target or 0
    while True:
        parts.append(_section(rng, question, index))
        index += 1
        if sum(len(p) for p in parts) >= goal:
            break
    parts.append(f"That covers the essentials; {rng.choice(_VERBS)} as you go.")
    content = "\n".join(parts)
    if target is not None and len(content) > target:
        content = content[:target]
    return Plan(content, reasoning)
