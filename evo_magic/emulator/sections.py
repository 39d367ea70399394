"""Markdown sections the emulator's answers are built from (pure, seeded by the caller's rng).

``full`` has every feature a renderer must handle (heading, bold, bullets, a numbered list,
a fenced Python block, a table); ``varied`` picks one of several shapes (SQL or shell code,
nested lists, block quotes, aligned tables, JSON) so long answers are not one block repeated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

TOPICS = [
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
_INSTRUCTIONS = frozenset(
    {"write", "explain", "please", "about", "describe", "words", "characters", "chars", "tokens", "long", "with"}
)
VERBS = ["check", "measure", "document", "simplify", "profile", "validate", "compare", "plot"]


def keyword(rng: random.Random, question: str) -> str:
    """A word of the question (4+ letters) that the answer keeps coming back to."""
    words = [w for w in re.findall(r"[A-Za-z]{4,}", question) if w.lower() not in _INSTRUCTIONS] or ["data"]
    return str(rng.choice(words)).lower()


def _identifier(key: str) -> str:
    return re.sub(r"\W", "_", key)[:12] or "x"


def sentence(rng: random.Random, key: str) -> str:
    """One plain sentence of prose."""
    return (
        f"{rng.choice(VERBS).capitalize()} the {rng.choice(TOPICS)} of {key} and "
        f"{rng.choice(VERBS)} how it interacts with {rng.choice(TOPICS)}."
    )


def full(rng: random.Random, key: str, index: int) -> str:
    """Heading, bold, bullets, numbered steps, a ```python block and a table."""
    topic, verb = rng.choice(TOPICS), rng.choice(VERBS)
    items = [f"{rng.choice(VERBS).capitalize()} the {rng.choice(TOPICS)} of `{key}` first." for _ in range(3)]
    steps = [f"{v.capitalize()} {rng.choice(TOPICS)} before moving on." for v in rng.sample(VERBS, 3)]
    name = f"{verb}_{_identifier(key)}"
    code = (
        f"def {name}(values):\n"
        f'    """{verb.capitalize()} {topic} for {key}."""\n'
        f"    total = sum(values)\n"
        f"    return total / max(len(values), 1)\n\n"
        f"print({name}([{index}, {index + 2}, {index + 4}]))"
    )
    rows = "\n".join(f"| {t} | {rng.randint(1, 99)} % | {rng.choice(VERBS)} |" for t in rng.sample(TOPICS, 3))
    return (
        f"### {index}. {topic.capitalize()}\n\n"
        f"When you {verb} **{topic}**, start small and keep each step visible.\n\n"
        + "\n".join(f"- {i}" for i in items)
        + "\n\n"
        + "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))
        + f"\n\n```python\n{code}\n```\n\n| aspect | share | action |\n| --- | --- | --- |\n{rows}\n"
    )


def _query(rng: random.Random, key: str, index: int) -> str:
    table, column = _identifier(key), rng.choice(["value", "amount", "score", "duration"])
    return (
        f"### {index}. Querying {key}\n\n"
        f"A query keeps *{rng.choice(TOPICS)}* explicit; `{column}` is the column to watch.\n\n"
        f"```sql\nSELECT category, AVG({column}) AS mean_{column}, COUNT(*) AS n\n"
        f"FROM {table}\nWHERE {column} IS NOT NULL\nGROUP BY category\nORDER BY n DESC\n"
        f"LIMIT {rng.randint(5, 50)};\n```\n\n"
        f"> **Tip:** {rng.choice(VERBS)} the {rng.choice(TOPICS)} before trusting the averages.\n"
    )


def _steps(rng: random.Random, key: str, index: int) -> str:
    lines = []
    for n, verb in enumerate(rng.sample(VERBS, 3), 1):
        lines.append(f"{n}. **{verb.capitalize()}** the {rng.choice(TOPICS)}:")
        lines += [f"   - {rng.choice(VERBS)} {rng.choice(TOPICS)} of `{key}`" for _ in range(2)]
    return (
        f"### {index}. A checklist for {key}\n\n"
        + "\n".join(lines)
        + "\n\n```bash\npython -m pip install --upgrade pandas\n"
        + f"python analyse_{_identifier(key)}.py --seed {rng.randint(1, 999)}\n```\n"
    )


def _table(rng: random.Random, key: str, index: int) -> str:
    rows = "\n".join(
        f"| {t} | {rng.randint(1, 999):,} | {rng.uniform(0, 1):.2f} | {rng.choice(VERBS)} |"
        for t in rng.sample(TOPICS, 5)
    )
    return (
        f"### {index}. {key.capitalize()} in numbers\n\n"
        f"The figures below are illustrative; {rng.choice(VERBS)} yours with the same ~~guesswork~~ care.\n\n"
        f"| topic | rows | ratio | next step |\n|:--- | ---:| ---:|:---:|\n{rows}\n"
    )


def _quote(rng: random.Random, key: str, index: int) -> str:
    body = " ".join(sentence(rng, key) for _ in range(3))
    config = f'{{\n  "{_identifier(key)}": {{"threshold": {rng.randint(1, 9) / 10}, "enabled": true}}\n}}'
    return (
        f"### {index}. Pitfalls with {rng.choice(TOPICS)}\n\n{body}\n\n"
        f"> {rng.choice(VERBS).capitalize()} early, {rng.choice(VERBS)} often.\n"
        f"> Most surprises in {key} come from {rng.choice(TOPICS)}.\n\n"
        f"```json\n{config}\n```\n"
    )


_SHAPES: list[Callable[[random.Random, str, int], str]] = [full, _query, _steps, _table, _quote]


def varied(rng: random.Random, key: str, index: int) -> str:
    """One section of a randomly chosen shape."""
    return rng.choice(_SHAPES)(rng, key, index)
