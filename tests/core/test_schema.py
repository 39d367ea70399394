"""schema=: descriptions, output columns, validation and the retry message, for every kind."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

import pytest

from evo_magic.core.schema import retry_message, schema_of
from evo_magic.errors import OptionError

pydantic = pytest.importorskip("pydantic")
if importlib.util.find_spec("jsonschema") is None:  # imported by evo_magic when a dict schema is used
    pytest.skip("jsonschema is not installed", allow_module_level=True)


class Sentiment(pydantic.BaseModel):
    label: Literal["positive", "negative", "neutral"]
    confidence: float = pydantic.Field(description="between 0 and 1")
    tags: list[str] = []  # noqa: RUF012 (pydantic copies defaults)


@dataclass
class Invoice:
    number: str
    total: float
    paid: bool | None = None


class Person(TypedDict):
    name: str
    age: int


JSON = {
    "type": "object",
    "properties": {"label": {"enum": ["spam", "ham"]}, "score": {"type": "number", "minimum": 0}},
    "required": ["label", "score"],
}
KINDS = [(Sentiment, "pydantic"), (Invoice, "dataclass"), (Person, "typeddict"), (JSON, "json")]


@pytest.mark.parametrize("source,kind", KINDS)
def test_every_kind_has_columns_a_description_with_json_and_a_valid_example(source, kind) -> None:
    schema = schema_of(source)
    assert schema.kind == kind
    description = schema.describe()
    assert "json" in description and "JSON" in description and "Example: {" in description
    example = description.rsplit("Example: ", 1)[1]
    assert list(json.loads(example)) == list(schema.columns)
    checked = schema.validate(example)
    assert checked.ok, checked.error  # the example the model is shown is itself valid


def test_columns_follow_the_schema_order() -> None:
    assert schema_of(Sentiment).columns == ("label", "confidence", "tags")
    assert schema_of(Invoice).columns == ("number", "total", "paid")
    assert schema_of(Person).columns == ("name", "age")
    assert schema_of(JSON).columns == ("label", "score")


def test_the_description_is_compact_and_says_types_and_choices() -> None:
    text = schema_of(Sentiment).describe()
    assert '- label: one of "positive", "negative", "neutral"' in text
    assert "- confidence: number — between 0 and 1" in text and "- tags: list of string (optional)" in text


def test_valid_answers_become_objects_and_fields() -> None:
    s = schema_of(Sentiment)
    checked = s.validate('```json\n{"label": "positive", "confidence": 0.9}\n```')
    assert checked.ok and isinstance(checked.value, Sentiment)
    assert s.fields(checked.value) == {"label": "positive", "confidence": 0.9, "tags": []}
    invoice = schema_of(Invoice).validate('{"number": "A-1", "total": 12.5}').value
    assert invoice == Invoice("A-1", 12.5) and schema_of(JSON).fields({"label": "ham", "score": 1}) == {"label": "ham", "score": 1}


@pytest.mark.parametrize(
    "source,answer,problem",
    [
        (Sentiment, '{"label": "great", "confidence": "x"}', r"^label: Input should be 'positive', 'negative' or 'neutral'; confidence: "),
        (Sentiment, '{"label": "positive"', r"^not valid JSON"),
        (Person, '{"name": "Ann"}', r"^age: Field required$"),
        (JSON, '{"label": "eggs", "score": -1}', r"^label: 'eggs' is not one of \['spam', 'ham'\]; score: -1 is less than the minimum of 0$"),
        (JSON, "nope", r"^not valid JSON \(Expecting value"),
        (JSON, "  ", r"^the answer was empty; expected one JSON object$"),
    ],
)
def test_invalid_answers_give_a_short_one_line_message(source, answer, problem) -> None:
    checked = schema_of(source).validate(answer)
    assert not checked.ok and "\n" not in checked.error
    assert __import__("re").search(problem, checked.error), checked.error


def test_many_problems_are_capped() -> None:
    schema = {"type": "object", "properties": {f"f{i}": {"type": "integer"} for i in range(6)}}
    error = schema_of(schema).validate(json.dumps({f"f{i}": "x" for i in range(6)})).error
    assert error.endswith("(and 3 more)") and error.count(";") == 2


def test_the_retry_message_quotes_the_problem() -> None:
    assert retry_message("age: Field required") == (
        "That answer is not valid: age: Field required. Reply again with only the corrected JSON object, "
        "following the fields and types given."
    )


@pytest.mark.parametrize(
    "source,message",
    [
        (str, "schema must be a pydantic model, a dataclass, a TypedDict or a JSON Schema dict, not str"),
        ({"type": "string"}, "the JSON Schema must describe an object with at least one field"),
        ({"type": "object", "properties": {"a": {"type": 12}}}, "schema is not a valid JSON Schema: 12 is not valid"),
    ],
)
def test_bad_schemas_are_one_line_errors(source, message) -> None:
    with pytest.raises(OptionError, match="^" + __import__("re").escape(message)):
        schema_of(source)


class _Opaque:
    """A type pydantic can check but not describe in JSON Schema."""


@dataclass
class _Hook:
    call: Callable[[int], int]


def test_a_model_whose_fields_json_schema_cannot_describe_is_a_one_line_error() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Holder(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        thing: _Opaque

    for source, name in ((Holder, "Holder"), (_Hook, "_Hook")):
        with pytest.raises(OptionError, match=f"^{name} cannot be described as a JSON Schema: ") as info:
            schema_of(source)
        assert "\n" not in str(info.value)


def test_validators_are_imported_only_for_their_kind() -> None:
    code = (
        "import sys\nfrom evo_magic.core.schema import schema_of\n"
        "schema_of({'type': 'object', 'properties': {'a': {'type': 'string'}}})\n"
        "print('pydantic' in sys.modules, 'jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
