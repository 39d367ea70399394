from __future__ import annotations

import sys

import pytest

from evo_magic.core.context import InterpolationError, describe, interpolate


def test_names_expressions_and_literal_braces() -> None:
    ns = {"n": 3, "xs": [1, 2, 3], "name": "Ada"}
    assert interpolate("Hi {name}, {n * 2} and {xs[1:]} {{literal}}", ns) == "Hi Ada, 6 and [2, 3] {literal}"


def test_unknown_name_is_an_error_not_a_literal() -> None:
    with pytest.raises(InterpolationError, match="no variable named 'missing'"):
        interpolate("look at {missing}", {})
    with pytest.raises(InterpolationError, match="ZeroDivisionError"):
        interpolate("{1/0}", {})


def test_non_expressions_and_code_fences_stay_literal() -> None:
    text = 'JSON like {"a": 1} stays.\n```python\nd = {x: 1}\nprint(f"{y}")\n```\n'
    assert interpolate(text, {}) == text


def test_string_budget_and_note() -> None:
    out = describe("x" * 10_000, tokens=100)
    assert out.startswith("x" * 400) and "9,600 more characters left out" in out


def test_long_list_and_dict_truncated_with_counts() -> None:
    out = describe(list(range(100_000)), tokens=50)
    assert "list of 100,000 items" in out and "more items left out" in out and len(out) < 400
    d = describe({f"k{i}": i for i in range(5000)}, tokens=50)
    assert "dict of 5,000 keys" in d and "more keys left out" in d
    assert describe([1, 2]) == "[1, 2]" and describe({"a": 1}) == "{'a': 1}"


def test_pandas_and_numpy_are_not_imported_for_plain_values() -> None:
    before = {"pandas", "numpy"} & set(sys.modules)
    describe({"a": [1, 2]})
    interpolate("{x}", {"x": 1})
    assert {"pandas", "numpy"} & set(sys.modules) == before


def test_numpy_array_summary() -> None:
    np = pytest.importorskip("numpy")
    out = describe(np.arange(1000).reshape(100, 10), tokens=200)
    assert "shape (100, 10)" in out and "min 0, max 999" in out and "(980 more)" in out


def test_dataframe_described_not_dumped() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"city": ["Paris", "Oslo", None] * 400, "temp": range(1200)})
    out = describe(df, tokens=400)
    assert "1,200 rows × 2 columns" in out and ("city (object)" in out or "city (str)" in out) and "temp (int64)" in out
    assert "missing values: city: 400" in out and "1,195 more rows" in out
    assert len(out) <= 400 * 4 + 100


def test_format_specs_and_numpy_scalars() -> None:
    assert interpolate("mean {x:.2f} and {x}", {"x": 3.14159}) == "mean 3.14 and 3.14159"
    with pytest.raises(InterpolationError, match="bad format"):
        interpolate("{x:d}", {"x": "s"})
    np = pytest.importorskip("numpy")
    assert describe(np.float64(19.5)) == "19.5"


def test_missing_names_can_say_what_they_mean() -> None:
    missing = {"Err": "there is no error yet to refer to"}
    with pytest.raises(InterpolationError, match=r"^\{Err\}: there is no error yet to refer to$"):
        interpolate("why {Err}", {}, missing=missing)
    with pytest.raises(InterpolationError, match="no variable named 'other'"):
        interpolate("{other}", {}, missing=missing)
    assert interpolate("{Err}", {"Err": "boom"}, missing=missing) == "boom"
