"""``schema=``: what the model is asked to return, the output columns, and the validator.

A schema may be a pydantic model, a dataclass, a ``TypedDict`` or a JSON Schema dict (an object
with ``properties``). :func:`schema_of` turns any of them into a :class:`Schema`:

- ``describe()`` — a compact description for the request: one line per field (name, type,
  allowed values, required or not, its description) and an example object. DeepSeek's JSON mode
  (``response_format: json_object``) needs the word "json" in the prompt and an example; both
  are there, and the text is the same for every row (it belongs to the cached instruction);
- ``columns`` — one output column per top-level field, in the schema's order;
- ``validate(text)`` — the validated object (a model instance, a dataclass, a dict) or a
  short message fit to send back to the model for the one retry (:func:`retry_message`):
  pydantic validates models (and, through ``TypeAdapter``, dataclasses and TypedDicts), the
  ``jsonschema`` library validates dicts. Both are optional dependencies, imported only here
  and only for the kind of schema given.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, cast

if TYPE_CHECKING:
    from jsonschema import ValidationError as SchemaViolation
    from pydantic import BaseModel, TypeAdapter
    from pydantic_core import ErrorDetails

from ..errors import OptionError

_T = TypeVar("_T")

MAX_PROBLEMS = 3  # validation problems quoted in a message
MAX_PROBLEM_CHARS = 160
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.S | re.I)
_INSTALL = 'pip install "evo_magic[batch]"'

Kind: TypeAlias = Literal["pydantic", "dataclass", "typeddict", "json"]


@dataclass(frozen=True)
class Checked:
    """The outcome of validating one answer: ``value`` when valid, else ``error`` (one line)."""

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Schema:
    """A schema in every form the run needs (see the module docstring)."""

    kind: Kind
    source: type | Mapping[str, Any]  # what was given
    json_schema: Mapping[str, Any]
    columns: tuple[str, ...]
    _check: Callable[[str], Checked] = field(repr=False, compare=False)

    def validate(self, text: str | None) -> Checked:
        """Parse and validate an answer's text (a ```json fence around it is tolerated)."""
        if not text or not text.strip():
            return Checked(error="the answer was empty; expected one JSON object")
        fenced = _FENCE.match(text)
        return self._check(fenced.group(1) if fenced else text)

    def fields(self, value: object) -> dict[str, Any]:
        """The output columns' values of a validated object."""
        if isinstance(value, Mapping):
            return {c: value.get(c) for c in self.columns}
        return {c: getattr(value, c, None) for c in self.columns}

    def describe(self) -> str:
        """The compact description sent with every row (contains "json" and an example)."""
        lines = ["Reply with one JSON object only (valid json, no other text), with these fields:"]
        required = set(self.json_schema.get("required") or ())
        defs = self.json_schema.get("$defs") or self.json_schema.get("definitions") or {}
        for name, prop in (self.json_schema.get("properties") or {}).items():
            line = f"- {name}: {_type(prop, defs)}" + ("" if name in required else " (optional)")
            about = prop.get("description") if isinstance(prop, Mapping) else None
            lines.append(f"{line} — {about}" if about else line)
        example = {name: _example(prop, defs) for name, prop in (self.json_schema.get("properties") or {}).items()}
        lines.append("Example: " + json.dumps(example, ensure_ascii=False))
        return "\n".join(lines)


def retry_message(error: str) -> str:
    """The user message that asks once more after an invalid answer."""
    return (
        f"That answer is not valid: {error}. Reply again with only the corrected JSON object, "
        "following the fields and types given."
    )


def schema_of(source: object) -> Schema:
    """A :class:`Schema` for a pydantic model, dataclass, TypedDict or JSON Schema dict;
    OptionError (one line) for anything else or a missing optional dependency."""
    if isinstance(source, Mapping):
        return _json_schema(dict(source))
    if isinstance(source, type) and _is_pydantic_model(source):
        model = cast("type[BaseModel]", source)
        described = _described(source, model.model_json_schema)
        return _build("pydantic", source, described, lambda text: model.model_validate_json(text))
    if isinstance(source, type) and (dataclasses.is_dataclass(source) or _is_typeddict(source)):
        make = _type_adapter()
        adapter = _described(source, lambda: make(_portable(source)))
        kind: Kind = "dataclass" if dataclasses.is_dataclass(source) else "typeddict"
        return _build(kind, source, _described(source, adapter.json_schema), adapter.validate_json)
    raise OptionError(
        f"schema must be a pydantic model, a dataclass, a TypedDict or a JSON Schema dict, not {_name(source)}"
    )


def _described(source: type, make: Callable[[], _T]) -> _T:
    """``make()``; a field pydantic cannot check or describe in JSON Schema (its
    ``PydanticUserError``, a RuntimeError) is a one-line OptionError naming ``source``."""
    try:
        return make()
    except RuntimeError as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise OptionError(f"{_name(source)} cannot be described as a JSON Schema: {first.strip()}") from None


def _portable(cls: type) -> type:
    """``cls``, or, for a ``typing.TypedDict`` before Python 3.12 (which pydantic refuses), the
    same fields as a ``typing_extensions.TypedDict``."""
    if sys.version_info >= (3, 12) or not _is_typeddict(cls) or type(cls).__module__ != "typing":
        return cls
    import typing

    import typing_extensions

    hints = typing.get_type_hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    fields = {k: v if k in required else typing_extensions.NotRequired[v] for k, v in hints.items()}
    typed_dict = cast(Callable[[str, dict[str, Any]], type], typing_extensions.TypedDict)  # the functional form
    return typed_dict(cls.__name__, fields)


def _name(source: object) -> str:
    return source.__name__ if isinstance(source, type) else type(source).__name__


def _is_pydantic_model(cls: type) -> bool:
    return any(base.__module__.startswith("pydantic") and base.__name__ == "BaseModel" for base in cls.__mro__)


def _is_typeddict(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, dict) and hasattr(cls, "__required_keys__")


def _type_adapter() -> type[TypeAdapter[Any]]:
    try:
        from pydantic import TypeAdapter
    except ImportError:
        raise OptionError(f"a dataclass or TypedDict schema is validated with pydantic: {_INSTALL}") from None
    return TypeAdapter


def _build(kind: Kind, source: type, schema: Mapping[str, Any], parse: Callable[[str], Any]) -> Schema:
    columns = _columns(schema, _name(source))
    from pydantic import ValidationError

    def check(text: str) -> Checked:
        try:
            return Checked(parse(text))
        except ValidationError as exc:
            return Checked(error=_problems(_pydantic_problem(e) for e in exc.errors()))

    return Schema(kind, source, schema, columns, check)


def _pydantic_problem(error: ErrorDetails) -> str:
    where = ".".join(str(p) for p in error.get("loc") or ())
    if error.get("type") == "json_invalid":
        return f"not valid JSON ({error.get('ctx', {}).get('error', error.get('msg'))})"
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def _json_schema(schema: dict[str, Any]) -> Schema:
    columns = _columns(schema, "the JSON Schema")
    try:
        import jsonschema
    except ImportError:
        raise OptionError(f"a JSON Schema dict is validated with the jsonschema library: {_INSTALL}") from None
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise OptionError(f"schema is not a valid JSON Schema: {exc.message}") from None
    validator = validator_class(schema)

    def check(text: str) -> Checked:
        try:
            value = json.loads(text)
        except ValueError as exc:
            return Checked(error=f"not valid JSON ({exc})")
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return Checked(value)
        return Checked(error=_problems(_jsonschema_problem(e) for e in errors))

    return Schema("json", schema, schema, columns, check)


def _jsonschema_problem(error: SchemaViolation) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else str(error.message)


def _problems(problems: Iterable[str]) -> str:
    found = [" ".join(str(p).split())[:MAX_PROBLEM_CHARS] for p in problems]
    shown = "; ".join(found[:MAX_PROBLEMS])
    more = f" (and {len(found) - MAX_PROBLEMS} more)" if len(found) > MAX_PROBLEMS else ""
    return (shown or "the answer does not match the schema") + more


def _columns(schema: Mapping[str, Any], what: str) -> tuple[str, ...]:
    props = schema.get("properties")
    if schema.get("type", "object") != "object" or not isinstance(props, Mapping) or not props:
        raise OptionError(f"{what} must describe an object with at least one field (properties), one column each")
    return tuple(str(name) for name in props)


def _resolve(prop: object, defs: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(prop, Mapping) and isinstance(prop.get("$ref"), str):
        prop = defs.get(prop["$ref"].rsplit("/", 1)[-1])
    return prop if isinstance(prop, Mapping) else {}


def _variants(prop: Mapping[str, Any]) -> list[Any]:
    return list(prop.get("anyOf") or prop.get("oneOf") or ())


def _type(prop: object, defs: Mapping[str, Any], depth: int = 0) -> str:
    """A short type text: ``string``, ``one of "a", "b"``, ``list of number``, ``object {x: ...}``."""
    prop = _resolve(prop, defs)
    if "enum" in prop:
        return "one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"], ensure_ascii=False)
    if _variants(prop):
        kinds = [_type(v, defs, depth) for v in _variants(prop)]
        return " or ".join(dict.fromkeys(kinds))
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs, depth)}"
    if kind == "object" and prop.get("properties") and depth < 2:
        inner = ", ".join(f"{k}: {_type(v, defs, depth + 1)}" for k, v in prop["properties"].items())
        return f"object {{{inner}}}"
    fmt = prop.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _example(prop: object, defs: Mapping[str, Any], depth: int = 0) -> object:
    prop = _resolve(prop, defs)
    if prop.get("examples"):
        return prop["examples"][0]
    if "default" in prop and prop["default"] is not None:
        return prop["default"]
    if prop.get("enum"):
        return prop["enum"][0]
    if "const" in prop:
        return prop["const"]
    variants = [v for v in _variants(prop) if _resolve(v, defs).get("type") != "null"]
    if variants:
        return _example(variants[0], defs, depth)
    kind = prop.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "array":
        return [_example(prop.get("items", {}), defs, depth + 1)] if depth < 3 else []
    if kind == "object":
        props = prop.get("properties") or {}
        return {k: _example(v, defs, depth + 1) for k, v in props.items()} if depth < 3 else {}
    return {"string": "...", "integer": 0, "number": 0.0, "boolean": True, "null": None}.get(str(kind), "...")
