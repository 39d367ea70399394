"""The middle of a FIM completion (pure): deterministic text that fits between a prompt and a
suffix, derived from both.

- Code whose hole opens a block (the prompt ends in a line ending with ``:`` or ``{``): the
  block's body at the right indentation — a docstring for a Python ``def`` / ``class``, a
  comment, a base case when the suffix calls the function again (``if a < 2: return a``),
  an assignment for each name the suffix uses but nothing defines (``total = sum(xs)``), a
  ``return`` when the suffix is empty, ``pass`` when nothing else is said; braces get a
  ``//`` comment and a ``return`` of the parameters.
- Code in the middle of a line (``x = `` ... ``print(x)``): a short expression.
- Prose: a sentence, spaced so that it reads on from the prompt into the suffix.

Newlines are added where the prompt and suffix need them, so ``prompt + fill + suffix``
reads as one text (and, for the Python cases, parses).
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import random
import re

from . import sections

_IDENT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\b(?!\s*\()")
_WORD = re.compile(r"[A-Za-z_]\w*")
_SIGNATURE = re.compile(r"^\s*(?:async\s+)?(?:def|function)\s+(\w+)\s*\(([^)]*)\)")
_CODE = re.compile(
    r"^\s*(?:def|class|import|from|for|while|if|return|function|const|let|var)\b|[{};=]|\):\s*$|^\s*[\w.]+\(.*\)\s*$",
    re.M,
)
_KNOWN = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "cls"}
_EXPRESSIONS = ("sum({p})", "len({p})", "max({p})")


def fill(prompt: str, suffix: str) -> str:
    """What goes between ``prompt`` and ``suffix`` (the same every time for the same pair)."""
    rng = random.Random(int(hashlib.sha256(f"{prompt}\x1f{suffix}".encode()).hexdigest()[:16], 16))
    if _CODE.search(prompt) or _CODE.search(suffix):
        return _code(prompt, suffix, rng)
    return _prose(prompt, suffix, rng)


def _prose(prompt: str, suffix: str, rng: random.Random) -> str:
    words = [w for w in _WORD.findall(prompt + " " + suffix) if len(w) > 3] or ["text"]
    text = sections.sentence(rng, rng.choice(words).lower())
    if prompt.rstrip() and prompt.rstrip()[-1] not in ".!?":
        text = text[0].lower() + text[1:-1]  # the prompt's sentence goes on, into the suffix
    lead = " " if prompt and not prompt[-1].isspace() else ""
    tail = " " if suffix and not suffix[0].isspace() and suffix[0] not in ".,;:!?" else ""
    return lead + text + tail


def _unit(text: str) -> str:
    """The indentation step the code uses (a tab, or its smallest run of spaces; else 4)."""
    if re.search(r"^\t", text, re.M):
        return "\t"
    widths = [len(m) for m in re.findall(r"^( +)\S", text, re.M)]
    return " " * (min(widths) if widths else 4)


def _code(prompt: str, suffix: str, rng: random.Random) -> str:
    current = prompt.rsplit("\n", 1)[-1]
    lines = [line for line in prompt.split("\n") if line.strip()]
    last = lines[-1] if lines else ""
    opener = last.rstrip().endswith((":", "{"))
    if current.strip() and not opener:
        return _expression(prompt)
    unit = _unit(prompt + "\n" + suffix)
    base = _indent(last) if last else _indent(suffix.lstrip("\n"))
    indent = base + unit if opener else base
    body = _braces(last, suffix, rng) if last.rstrip().endswith("{") else _python(prompt, last, suffix, rng, unit)
    text = "\n".join(indent + line for line in body)
    if current.strip():
        text = "\n" + text  # the prompt's last line goes on: start a new one
    elif current and indent.startswith(current):
        text = text[len(current) :]  # the prompt already indented this line
    elif current:
        text = "\n" + text
    return text if suffix.startswith("\n") or not suffix else text + "\n"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _signature(line: str) -> tuple[str, list[str]]:
    found = _SIGNATURE.match(line)
    if not found:
        return "", []
    params = [p.split("=")[0].split(":")[0].strip().lstrip("*") for p in found.group(2).split(",")]
    return found.group(1), [p for p in params if p and p not in ("self", "cls")]


def _python(prompt: str, last: str, suffix: str, rng: random.Random, unit: str) -> list[str]:
    name, params = _signature(last)
    key = name or sections.keyword(rng, prompt + " " + suffix)
    topic = rng.choice(sections.TOPICS)
    out = []
    if re.match(r"\s*(?:async\s+)?(?:def|class)\b", last):
        out.append(f'"""{rng.choice(sections.VERBS).capitalize()} the {topic} of {key}."""')
    else:
        out.append(f"# {rng.choice(sections.VERBS).capitalize()} the {topic} first.")
    if name and params and re.search(rf"\b{re.escape(name)}\s*\(", suffix):
        out += [f"if {params[0]} < 2:", f"{unit}return {params[0]}"]  # the recursion's base case
    defined = set(_WORD.findall(prompt))
    head = "\n".join(suffix.strip("\n").split("\n")[:3])
    free = [n for n in dict.fromkeys(_IDENT.findall(head)) if n not in defined and n not in _KNOWN][:3]
    for i, n in enumerate(free):
        out.append(f"{n} = {_EXPRESSIONS[i].format(p=params[0]) if params else 'None'}")
    if not suffix.strip() and name:
        out.append(f"return {params[0] if params else 'None'}")
    if len(out) == 1 and not out[0].startswith('"""'):
        out.append("pass")
    return out


def _braces(last: str, suffix: str, rng: random.Random) -> list[str]:
    name, params = _signature(last)
    out = [f"// {rng.choice(sections.VERBS).capitalize()} the {rng.choice(sections.TOPICS)} of {name or 'this'}."]
    if params and "return" not in suffix:
        out.append(f"return {' + '.join(params)};")
    return out


def _expression(prompt: str) -> str:
    """A value where the prompt stops mid-line: one of its names, else 0."""
    names = [n for n in _IDENT.findall(prompt.rsplit("\n", 1)[0]) if n not in _KNOWN]
    return names[-1] if "\n" in prompt and names else "0"
