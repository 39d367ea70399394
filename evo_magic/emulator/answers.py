"""Deterministic answers derived from the conversation (pure).

``plan(conversation, ...)`` says what the emulated model answers, as a neutral Plan
(reasoning text, answer text, tool calls) that the protocol encoders put on the wire.

- The same conversation always gets the same answer; different prompts get different ones.
- Answers are real markdown: a bold lead that quotes the question, headings, bullet and
  numbered lists, fenced code blocks with a language, tables, block quotes.
- Simple arithmetic ("What is 2+2?") is answered: ``**4**`` and a short sentence.
- A requested size ("... 2000 words", "... 20000 characters", "... 5k tokens") gives an
  answer of about that size, built from varied sections; reasoning grows with it (~1/4).
- JSON mode, or a prompt asking for JSON, answers one valid JSON object.
- Offered tools are called when the prompt names one (or uses a word of its description);
  tool results are then used in the answer.
"""

from __future__ import annotations

import ast
import hashlib
import json
import operator
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import sections
from .tokens import count

_EXPR = re.compile(r"[-(]?\d[\d\s.+\-*/×÷()]*[\d)]")
_OPERATOR = re.compile(r"[\d)]\s*[-+*/×÷]\s*[-(]?\d")
_SIZE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k\b|thousand\b)?\s*[- ]?(words?|characters?|chars?|tokens?)\b", re.I)
_JSON_ASK = re.compile(
    r"\b(?:in|as|with|using|only)\s+(?:valid\s+|a\s+)?json\b|\bjson\s+(?:only|format|object)\b", re.I
)
_LIMITS = {"words": 400_000, "characters": 2_000_000, "tokens": 384_000}
_STOPWORDS = frozenset(
    """about after again also another based before being between could does doing every first from given
    have into just known like made make many more most much must other over same should some such than
    that their them then there these they this those through under using value values very what when
    where which while with within would your returns return gets get""".split()  # noqa: SIM905
)
_NUMERIC_NAMES = frozenset({"latitude", "longitude", "lat", "lon", "lng", "id", "count", "amount", "year"})
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


@dataclass
class Plan:
    """What the emulated model says; protocol encoders turn it into wire bodies."""

    content: str
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "arguments"}

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _evaluate(node: ast.AST) -> float:
    """+ - * / on numbers only (no powers, names or calls)."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_evaluate(node.operand)))
    raise ValueError("not arithmetic")


def arithmetic(question: str) -> tuple[str, str] | None:
    """(expression, value) when ``question`` is a short calculation, else None."""
    for m in _EXPR.finditer(question):
        expr = m.group().strip()
        if not _OPERATOR.search(expr):
            continue
        rest = question[: m.start()] + question[m.end() :]
        if len(re.findall(r"[A-Za-z]+", rest)) > 10:
            return None
        try:
            value = _evaluate(ast.parse(expr.replace("×", "*").replace("÷", "/"), mode="eval"))
        except ZeroDivisionError:
            return expr, "undefined (division by zero)"
        except (SyntaxError, ValueError, TypeError, OverflowError):
            continue
        return expr, (str(int(value)) if float(value).is_integer() else f"{value:.10g}")
    return None


def requested_size(question: str) -> tuple[str, int] | None:
    """("words" | "characters" | "tokens", n) when the prompt asks for a length."""
    m = _SIZE.search(question)
    if not m:
        return None
    n = float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
    unit = m.group(3).lower().rstrip("s")
    unit = {"word": "words", "token": "tokens"}.get(unit, "characters")
    return unit, max(1, min(int(n), _LIMITS[unit]))


_MEASURE: dict[str, Callable[[str], int]] = {
    "words": lambda s: len(s.split()),
    "characters": lambda s: len(s) + 1,  # +1: the newline joining the parts
    "tokens": count,
}


def _markdown(rng: random.Random, question: str, size: tuple[str, int] | None) -> str:
    short = " ".join(question.split())
    short = short if len(short) <= 160 else short[:157] + "…"
    lead = f"**{rng.choice(['Good question', 'Here is an overview', 'In short'])}.** You asked: “{short}”.\n"
    closing = f"That covers the essentials; {rng.choice(sections.VERBS)} as you go."
    key = sections.keyword(rng, question)
    if size is None:
        return "\n".join([lead, sections.full(rng, key, 1), closing])
    measure = _MEASURE[size[0]]
    budget = size[1] - measure(closing)
    parts, total = [lead], measure(lead)
    index = 1
    while True:
        section = sections.full(rng, key, index) if index == 1 else sections.varied(rng, key, index)
        m = measure(section)
        if total + m > budget:
            break
        parts.append(section)
        total += m
        index += 1
    paragraph: list[str] = []
    while True:
        sentence = sections.sentence(rng, key)
        if total + measure(sentence) > budget:
            break
        paragraph.append(sentence)
        total += measure(sentence)
        if len(paragraph) == 6:
            parts.append(" ".join(paragraph) + "\n")
            paragraph = []
    if paragraph:
        parts.append(" ".join(paragraph) + "\n")
    parts.append(closing)
    return "\n".join(parts)


_THOUGHTS = (
    "Next, consider {t1}: {v1} it, then {v2} the result against {t2}.",
    "Maybe {t1} matters more than {t2} here; I should {v1} that before I {v2} anything.",
    "Wait, what about {t1}? If I {v1} it first, {t2} becomes easier to {v2}.",
    "A concrete example would help: {v1} {t1} on a small sample, then {v2} {t2}.",
)


def _reasoning(rng: random.Random, question: str, length: int, note: str = "") -> str:
    """A few sentences "thinking about" the question, about ``length`` characters."""
    short = " ".join(question.split())[:120]
    t1, t2 = rng.sample(sections.TOPICS, 2)
    plan_text = note or (
        f"Let me think about what matters here. I should cover {t1} and {t2}, "
        "give a concrete example, and keep the answer well structured."
    )
    parts = [f'The user asks: "{short}". {plan_text}']
    size = len(parts[0])
    while size < length:
        t1, t2 = rng.sample(sections.TOPICS, 2)
        v1, v2 = rng.sample(sections.VERBS, 2)
        parts.append(rng.choice(_THOUGHTS).format(t1=t1, t2=t2, v1=v1, v2=v2))
        size += len(parts[-1]) + 1
    return " ".join(parts)


def _schema_value(name: str, spec: Any, words: list[str], numbers: list[str], rng: random.Random) -> Any:
    spec = spec if isinstance(spec, Mapping) else {}
    kind = spec.get("type")
    if spec.get("enum"):
        return spec["enum"][0]
    if kind in ("integer", "number"):
        if numbers:
            value = float(numbers.pop(0))
            return int(value) if kind == "integer" else value
        return rng.randint(1, 9) if kind == "integer" else round(rng.uniform(1, 9), 2)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_schema_value(name, spec.get("items"), words, numbers, rng)]
    if kind == "object":
        return tool_arguments(spec, words, numbers, rng)
    numeric = name.lower() in _NUMERIC_NAMES or re.search(r"\d", str(spec.get("description") or ""))
    if numbers and numeric:
        return numbers.pop(0)
    return words.pop(0) if len(words) > 1 else words[0]


def tool_arguments(schema: Any, words: list[str], numbers: list[str], rng: random.Random) -> dict[str, Any]:
    """Arguments for a JSON schema: required properties (and the first one), strings from the
    prompt's proper nouns in order, numbers from its numbers, enums' first value."""
    schema = schema if isinstance(schema, Mapping) else {}
    props = schema.get("properties") or {}
    required = schema.get("required") or []
    return {
        name: _schema_value(name, spec, words, numbers, rng)
        for i, (name, spec) in enumerate(props.items())
        if i == 0 or name in required
    }


def _significant(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{5,}", text.lower()) if w not in _STOPWORDS}


def choose_tools(tools: Sequence[Mapping[str, Any]], question: str, tool_choice: Any = None) -> list[Mapping[str, Any]]:
    """The functions to call: those the prompt names (parallel calls), else the first whose
    description shares a word with the prompt; ``tool_choice`` none / required / named."""
    functions = [t.get("function", t) for t in tools if isinstance(t, Mapping)]
    if tool_choice == "none" or not functions:
        return []
    if isinstance(tool_choice, Mapping):
        wanted = (tool_choice.get("function") or tool_choice).get("name")
        return [f for f in functions if f.get("name") == wanted][:1]
    lowered = question.lower()
    named = [
        f
        for f in functions
        if f.get("name") and (f["name"].lower() in lowered or f["name"].replace("_", " ").lower() in lowered)
    ]
    if named:
        return named
    words = _significant(question)
    for f in functions:
        if words & _significant(str(f.get("description") or "")):
            return [f]
    return functions[:1] if tool_choice in ("required", "any") else []


def _call_id(prefix: str, seed: str, i: int) -> str:
    n = int(hashlib.sha256(f"{seed}#{i}".encode()).hexdigest(), 16)
    tail = "".join(_ALPHABET[(n >> (6 * k)) % 62] for k in range(24))
    return f"{prefix}_{i:02d}_{tail}"


def plan(
    conversation: Sequence[tuple[str, str]],
    *,
    thinking: bool,
    tools: Sequence[Mapping[str, Any]] = (),
    json_mode: bool = False,
    choice: int = 0,
    call_prefix: str = "call",
    tool_choice: Any = None,
) -> Plan:
    """The answer to ``conversation``: (role, text) pairs, tool results with role "tool".
    ``choice`` varies the answer (the n choices of one request)."""
    seed = "\x1e".join(f"{r}:{t}" for r, t in conversation) + f"#{choice}"
    rng = _rng(seed)
    question = next((t for r, t in reversed(conversation) if r == "user"), "")
    last_role = conversation[-1][0] if conversation else "user"

    def think(note: str = "", length: int = 300) -> str | None:
        return _reasoning(_rng(seed, "reasoning"), question, length, note) if thinking else None

    if last_role == "tool":
        note = "The tools answered; I can now use their results in the answer."
        return Plan(_from_tool_results(conversation, question), think(note))
    chosen = choose_tools(tools, question, tool_choice) if last_role == "user" else []
    if chosen:
        calls = _tool_calls(chosen, question, call_prefix, seed, rng)
        names = ", ".join(c["name"] for c in calls)
        return Plan(
            f"I'll call {names} to find out.",
            think(f"I need data I do not have, so I should call {names} first."),
            calls,
        )
    if json_mode or _JSON_ASK.search(question):
        note = "The answer must be one valid JSON object, nothing around it."
        shaped = _json_as_described(conversation, question, rng)
        return Plan(json.dumps(shaped or _json_answer(question, rng), ensure_ascii=False), think(note))

    size = requested_size(question)
    calc = arithmetic(question) if size is None else None
    if calc is not None:
        expr, value = calc
        note = f"That is simple arithmetic: {expr} = {value}. I'll give the number and one short sentence."
        return Plan(f"**{value}**\n\n{expr} = {value}.", think(note, 120))

    content = _markdown(rng, question, size)
    return Plan(content, think(length=len(content) // 4 if size else 300))


def _from_tool_results(conversation: Sequence[tuple[str, str]], question: str) -> str:
    """An answer that quotes the tool results the conversation ends with."""
    results = [t for r, t in reversed(conversation) if r == "tool"][:8]
    return (
        "**Based on the tool results:**\n\n"
        + "\n".join(f"- `{r[:200]}`" for r in reversed(results))
        + f"\n\nSo the answer to “{question[:100]}” follows from these values."
    )


def _tool_calls(
    chosen: Sequence[Mapping[str, Any]], question: str, call_prefix: str, seed: str, rng: random.Random
) -> list[dict[str, Any]]:
    """One call per chosen tool, its arguments made from the question's words and numbers."""
    words = [w for w in re.findall(r"[A-Za-z][\w-]*", question)[1:] if w[0].isupper()]
    words = words or [w for w in re.findall(r"[A-Za-z][\w-]*", question) if len(w) > 2] or ["example"]
    numbers = re.findall(r"-?\d+(?:\.\d+)?", question)
    return [
        {
            "id": _call_id(call_prefix, seed, i),
            "name": f["name"],
            "arguments": json.dumps(
                tool_arguments(f.get("parameters") or f.get("input_schema"), [*words], [*numbers], rng)
            ),
        }
        for i, f in enumerate(chosen)
    ]


_EXAMPLE = re.compile(r"^Example: (\{.*\})\s*$", re.M)
_CHOICES = re.compile(r"^- (\w+): one of (.+?)(?: \(optional\))?(?: — .*)?$", re.M)


def _json_as_described(conversation: Sequence[tuple[str, str]], question: str, rng: random.Random) -> Any:
    """When the conversation describes the object to reply with (fields, then ``Example: {...}``,
    as evo_magic's schemas do), an object of that shape: a listed choice for a field that has
    them, else a value of the example's type. None without such a description."""
    text = "\n".join(t for _, t in conversation)
    found = _EXAMPLE.findall(text)
    example = _json_or_none(found[-1]) if found else None
    if not isinstance(example, dict):
        return None
    choices = {name: _json_or_none(f"[{listed}]") for name, listed in _CHOICES.findall(text)}
    subject = _subject(question)
    words = re.findall(r"[A-Za-z]{4,}", subject)[:6]

    def value(name: str, like: Any) -> Any:
        if choices.get(name):
            return rng.choice(choices[name])
        if isinstance(like, bool):
            return rng.random() < 0.5
        if isinstance(like, int):
            return rng.randint(1, 100)
        if isinstance(like, float):
            return round(rng.uniform(0, 1), 2)
        if isinstance(like, list) and like and not isinstance(like[0], str):
            return [value("", like[0]) for _ in range(rng.randint(1, 3))]
        if isinstance(like, list):
            return words[:3]
        if isinstance(like, str):
            return subject
        return like

    return {name: value(name, like) for name, like in example.items()}


def _subject(question: str) -> str:
    """What a row is about, as one short sentence: the longest sentence of its longest text
    (a map row's values come as a JSON object), at most 12 words."""
    values = _json_or_none(question)
    texts = [v for v in values.values() if isinstance(v, str)] if isinstance(values, dict) else [question]
    sentences = re.split(r"(?<=[.!?])\s+", max(texts, key=len, default="").strip())
    words = max(sentences, key=len).rstrip(".!?").split()[:12] or ["the request"]
    said = " ".join(words)
    return said[0].upper() + said[1:] + "."


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_answer(question: str, rng: random.Random) -> dict[str, Any]:
    """A JSON object about the question (JSON mode, or a question asking for JSON)."""
    return {
        "question": question[:200],
        "answer": f"{rng.choice(sections.VERBS).capitalize()} the {rng.choice(sections.TOPICS)} first.",
        "keywords": re.findall(r"[A-Za-z]{4,}", question)[:5],
        "score": rng.randint(1, 100),
        "ok": True,
    }
