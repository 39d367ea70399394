"""Tests of ``evo_magic.emulator.answers``."""

from __future__ import annotations

import json
import random

import pytest

from evo_magic.emulator.answers import arithmetic, choose_tools, plan, requested_size, tool_arguments
from evo_magic.emulator.tokens import count

from .helpers import WEATHER


def test_answers_are_deterministic_markdown_quoting_the_question() -> None:
    a = plan([("user", "Explain joins")], thinking=True)
    assert a == plan([("user", "Explain joins")], thinking=True)
    assert a.content != plan([("user", "Explain windows")], thinking=True).content
    assert a.content != plan([("user", "Explain joins")], thinking=True, choice=1).content
    assert "“Explain joins”" in a.content and a.content.startswith("**")
    for feature in ("### ", "**", "\n- ", "\n1. ", "```python\n", "| --- |"):
        assert feature in a.content
    assert a.reasoning and "Explain joins" in a.reasoning
    assert plan([("user", "Explain joins")], thinking=False).reasoning is None
    assert "<b>" in plan([("user", "Explain <b>bold</b> joins")], thinking=False).content  # nothing escaped


@pytest.mark.parametrize(
    ("question", "value"),
    [("What is 2+2?", "4"), ("What is 2 + 2? Answer with just the number.", "4"), ("Compute (3+4)*2/7", "2")],
)
def test_arithmetic(question: str, value: str) -> None:
    assert arithmetic(question) is not None and arithmetic(question)[1] == value  # type: ignore[index]
    assert plan([("user", question)], thinking=False).content.startswith(f"**{value}**\n\n")


def test_no_arithmetic_in_prose() -> None:
    assert arithmetic("Explain the 80/20 rule in project management with examples from data teams and more") is None
    assert arithmetic("Explain joins") is None


@pytest.mark.parametrize(
    ("question", "unit", "n"),
    [
        ("Write 20000 characters on data", "characters", 20000),
        ("Write an essay of 2,000 words about pandas", "words", 2000),
        ("Give me 5k tokens on joins", "tokens", 5000),
    ],
)
def test_requested_sizes(question: str, unit: str, n: int) -> None:
    assert requested_size(question) == (unit, n)
    p = plan([("user", question)], thinking=True)
    size = {"characters": len, "words": lambda s: len(s.split()), "tokens": count}[unit](p.content)
    assert 0.97 * n <= size <= 1.01 * n
    assert p.content.count("```") % 2 == 0 and p.content.count("\n### ") >= 3
    assert sum(f in p.content for f in ("```sql", "```bash", "```json", "\n> ", "|:---")) >= 2  # varied sections
    assert 0.2 * len(p.content) <= len(p.reasoning or "") <= 0.35 * len(p.content)


def test_json_answers() -> None:
    asked = plan([("user", "Reply in JSON: what are joins?")], thinking=False)
    assert json.loads(asked.content)["ok"] is True
    assert json.loads(plan([("user", "list keywords")], thinking=True, json_mode=True).content)["ok"] is True


def test_tool_choice_and_arguments() -> None:
    berlin = {"type": "object", "properties": {"latitude": {"type": "string", "description": "e.g. 52.52"}}}
    tools = [
        WEATHER,
        {"function": {"name": "best_language", "description": "Best language to learn", "parameters": {}}},
    ]
    assert [f["name"] for f in choose_tools(tools, "Use weather and best_language")] == ["weather", "best_language"]
    assert [f["name"] for f in choose_tools(tools, "What is the location of the museum?")] == ["weather"]
    assert choose_tools(tools, "Tell me a joke") == [] and choose_tools(tools, "weather?", "none") == []
    assert [f["name"] for f in choose_tools(tools, "Tell me a joke", "required")] == ["weather"]
    rng = random.Random(0)
    assert tool_arguments(berlin, ["Berlin"], ["52.52", "13.40"], rng) == {"latitude": "52.52"}
    p = plan([("user", "Use weather for Paris")], thinking=True, tools=tools)
    assert p.finish_reason == "tool_calls" and json.loads(p.tool_calls[0]["arguments"]) == {"city": "Paris"}
    assert p.tool_calls[0]["id"].startswith("call_00_") and len(p.tool_calls[0]["id"]) == 32
    after = plan([("user", "Use weather for Paris"), ("assistant", "…"), ("tool", '{"celsius": 21}')], thinking=True)
    assert '{"celsius": 21}' in after.content and after.finish_reason == "stop"


def test_json_answers_take_the_shape_the_conversation_describes() -> None:
    described = (
        "Triage the ticket.\nReply with one JSON object only (valid json, no other text), with these fields:\n"
        '- team: one of "billing", "sync"\n- urgency: one of "low", "high"\n- reply: string\n- refund: boolean\n'
        '- score: integer\nExample: {"team": "billing", "urgency": "low", "reply": "...", "refund": false, "score": 0}'
    )
    answers = [json.loads(plan([("system", described), ("user", f"ticket {i}: charged twice")], thinking=False,
                               json_mode=True).content) for i in range(20)]  # fmt: skip
    assert all(set(a) == {"team", "urgency", "reply", "refund", "score"} for a in answers)
    assert {a["team"] for a in answers} == {"billing", "sync"} and {a["urgency"] for a in answers} == {"low", "high"}
    assert all(isinstance(a["reply"], str) and a["reply"] and isinstance(a["score"], int) for a in answers)
    assert all(isinstance(a["refund"], bool) for a in answers)
    again = plan([("system", described), ("user", "ticket 0: charged twice")], thinking=False, json_mode=True)
    assert json.loads(again.content) == answers[0]  # deterministic


def test_json_answers_validate_against_the_schema_that_described_them() -> None:
    from evo_magic.core.schema import schema_of

    schema = schema_of({
        "type": "object",
        "properties": {
            "level": {"enum": [1, 2, 3]},
            "tags": {"type": "array", "items": {"type": "integer"}},
            "label": {"enum": ["a \"quoted\" one", "plain"], "description": "the label"},
            "note": {"type": "string"},
        },
        "required": ["level", "tags", "label", "note"],
    })  # fmt: skip
    asked = [("system", schema.describe()), ("user", "row 7: the parcel arrived late")]
    answers = [plan(asked, thinking=False, json_mode=True, choice=i).content for i in range(12)]
    assert all(schema.validate(a).error is None for a in answers), [schema.validate(a).error for a in answers]
    assert len({json.loads(a)["level"] for a in answers}) > 1


def test_a_string_field_speaks_of_the_rows_own_text() -> None:
    described = 'Reply with one JSON object only, with these fields:\n- summary: string\nExample: {"summary": "..."}'
    row = json.dumps({"plan": "pro", "text": "Third time I write! The app crashes when I export a report to PDF."})
    got = json.loads(plan([("system", described), ("user", row)], thinking=False, json_mode=True).content)
    assert got["summary"] == "The app crashes when I export a report to PDF."
    plain = json.loads(plan([("system", described), ("user", "sync stopped")], thinking=False, json_mode=True).content)
    assert plain["summary"] == "Sync stopped."
