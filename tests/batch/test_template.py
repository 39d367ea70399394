"""Row templates: parsing, rendering, the prefix-cache layout and the --map cell split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.batch.template import compile_template, split_cell
from evo_magic.core.context import InterpolationError
from evo_magic.errors import OptionError

from ..profiles import examples

COLUMNS = ["text", "price", "unit price", "when"]
ROW = {"text": "Great value", "price": 3.14159, "unit price": 2, "when": "2026-01-02"}


def test_placeholders_name_columns_three_ways_with_format_specs() -> None:
    t = compile_template('Review: {text}; {row.price:.2f} / {row["unit price"]:>3}; {{not}} {row.text}', COLUMNS)
    assert t.columns == ("text", "price", "unit price")
    assert t.render(ROW) == "Review: Great value; 3.14 /   2; {not} Great value"


def test_a_brace_that_starts_no_placeholder_stays_literal_and_placeholders_inside_are_found() -> None:
    t = compile_template('Answer like {"label": "{text}", "n": 0} or { } or {0}', COLUMNS)
    assert t.render(ROW) == 'Answer like {"label": "Great value", "n": 0} or { } or {0}'


def test_an_unknown_placeholder_is_one_line_listing_the_columns_with_a_suggestion() -> None:
    with pytest.raises(OptionError) as info:
        compile_template("Classify {txt}", COLUMNS)
    message = str(info.value)
    assert message == "{txt}: no column named 'txt' (columns: 'text', 'price', 'unit price', 'when'); did you mean {text}?"
    with pytest.raises(OptionError, match=r"^\{row\.nope\}: no column named 'nope'"):
        compile_template("{row.nope}", COLUMNS)


def test_something_that_reads_like_a_placeholder_but_is_not_one_is_an_error() -> None:
    with pytest.raises(OptionError, match=r"^\{text!r\} is not a row placeholder: .*\{\{ \}\} for literal braces$"):
        compile_template("{text!r}", COLUMNS)


def test_a_bad_format_for_a_value_names_the_placeholder() -> None:
    t = compile_template("{text:.2f}", COLUMNS)
    with pytest.raises(OptionError, match=r"^\{text:\.2f\}: cannot format str value 'Great value' with '\.2f'"):
        t.render(ROW)


def test_the_instruction_is_identical_for_every_row_and_the_row_comes_last() -> None:
    t = compile_template("Rate {text} from 1 to 5, considering the price {price:.2f}. Be strict.", COLUMNS)
    first, second = t.messages(ROW, extra="Answer in JSON."), t.messages({**ROW, "text": "Bad", "price": 1}, extra="Answer in JSON.")
    assert first[0] == second[0] and first[0].role == "system"
    assert first[0].content == (
        "Rate {text} from 1 to 5, considering the price {price}. Be strict.\n\n"
        "The user message gives {text} and {price} as a JSON object.\n\nAnswer in JSON."
    )
    assert [m.content for m in (first[1], second[1])] == ['{"text": "Great value", "price": "3.14"}', '{"text": "Bad", "price": "1.00"}']
    one = compile_template("Classify the sentiment of this review: {text}", COLUMNS)
    assert [m.content for m in one.messages(ROW, system="You are terse.")] == [
        "You are terse.", "Classify the sentiment of this review: {text}\n\nThe user message is the {text}.", "Great value"]
    assert [(m.role, m.content) for m in compile_template("Say hi", COLUMNS).messages(ROW)] == [("user", "Say hi")]


def test_rows_share_the_whole_instruction_as_a_token_prefix() -> None:
    tokens = pytest.importorskip("evo_magic.core.tokens").tokenizer()
    from evo_magic.core.options import RequestOptions
    from evo_magic.protocol import openai_chat

    t = compile_template("Summarise {text} in one line. " + "Be precise and neutral. " * 30, COLUMNS)
    opts = RequestOptions(thinking=False, stream=False)
    a, b = (tokens.prompt_ids(openai_chat.build_body(t.messages({**ROW, "text": x}), opts)) for x in ("alpha", "beta"))
    shared = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert shared == 1 + tokens.count(t.instruction()) + 1  # BOS, the instruction, <｜User｜>


def _escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@settings(max_examples=examples(200), deadline=None)
@given(st.text())
def test_any_escaped_text_renders_back_exactly(text: str) -> None:
    t = compile_template(_escaped(text), COLUMNS)
    assert t.columns == () and t.render(ROW) == text


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.sampled_from('ab {}:."[]\\xtrow'), max_size=40))
def test_any_text_with_braces_compiles_or_fails_with_one_line(text: str) -> None:
    try:
        t = compile_template(text, ["x", "row"])
    except OptionError as exc:
        assert "\n" not in str(exc)
        return
    try:  # a spec valid for some values (``{x:x}``: hex of an int) may not suit a text value
        assert isinstance(t.render({"x": "V", "row": "R"}), str)
    except OptionError as exc:
        assert "\n" not in str(exc) and "cannot format str value" in str(exc)


@pytest.mark.parametrize("text", ["{x::}", "{x:a}", "{x:.}", "{x:<<<}", "{row.x:,,}"])
def test_a_spec_no_value_could_take_is_refused_when_compiled(text: str) -> None:
    with pytest.raises(OptionError, match=r"is not a format spec .*\{price:\.2f\}"):
        compile_template(text, ["x"])


@pytest.mark.parametrize("spec", [">3", ".2f", "x", ",", "%Y-%m-%d", "^10", "+.1%", "08.3e"])
def test_specs_some_value_takes_compile(spec: str) -> None:
    assert compile_template("{x:" + spec + "}", ["x"]).placeholders[0].spec == spec


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.one_of(st.text(max_size=15).map(lambda s: ("lit", s)), st.sampled_from(COLUMNS).map(lambda c: ("col", c))), max_size=8))
def test_literals_and_placeholders_interleave(parts: list[tuple[str, str]]) -> None:
    source = "".join(_escaped(v) if k == "lit" else '{row["' + v + '"]}' for k, v in parts)
    expected = "".join(v if k == "lit" else str(ROW[v]) for k, v in parts)
    assert compile_template(source, COLUMNS).render(ROW) == expected


# --- the --map cell split --------------------------------------------------------------------

NS = {"labels": ["positive", "negative"], "cutoff": 0.51234, "shape": {"a": "{b}"}}


def test_columns_are_row_placeholders_and_other_names_are_interpolated_once() -> None:
    cell = split_cell("Pick one of {labels} for {text} (cutoff {cutoff:.2f}, {shape}); {row.price}", COLUMNS, NS)
    assert cell.columns == ("text", "price") and cell.notebook == ("labels", "cutoff:.2f", "shape")
    assert compile_template(cell.template, COLUMNS).render(ROW) == (
        "Pick one of ['positive', 'negative'] for Great value (cutoff 0.51, {'a': '{b}'}); 3.14159"
    )


def test_a_name_that_is_both_column_and_variable_asks_for_row_dot() -> None:
    with pytest.raises(OptionError, match=r"^\{text\} names both a column and a notebook variable: write \{row\.text\}"):
        split_cell("{text}", COLUMNS, {"text": "x"})
    assert split_cell("{row.text}", COLUMNS, {"text": "x"}).columns == ("text",)


def test_a_name_that_is_neither_is_one_line_with_a_suggestion() -> None:
    with pytest.raises(OptionError, match=r"^\{txt\}: 'txt' is neither a notebook variable nor a column .*did you mean \{text\}\?$"):
        split_cell("{txt}", COLUMNS, NS)
    with pytest.raises(InterpolationError, match="failed: ZeroDivisionError"):
        split_cell("{1/0} {text}", COLUMNS, NS)


def test_fenced_code_keeps_its_braces_but_row_placeholders_work_there() -> None:
    cell = split_cell("Review:\n```\nif x: {labels} {{y}}\n{text}\n```\nDone {{z}}", COLUMNS, NS)
    assert compile_template(cell.template, COLUMNS).render(ROW) == "Review:\n```\nif x: {labels} {{y}}\nGreat value\n```\nDone {z}"
