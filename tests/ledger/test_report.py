"""The usage view (pure): totals in Python equal to the ledger's SQL, the spend chart (SVG and
sparkline), the HTML and text forms, CSV and pandas exports, and ``%deepseek usage [--csv]``."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evo_magic.ledger.chart import series, sparkline, spend_chart_svg, summary
from evo_magic.ledger.report import ALL_BY, COLUMNS, UsageRecord, UsageRows, UsageView
from evo_magic.ledger.store import Ledger

from ..display.helpers import assert_skipped_by_mathjax
from .helpers import AT, SVG, circles, sample, spread


def records(tmp_path: Path, notebook: str | None = "analysis.ipynb") -> list[UsageRecord]:
    """The sample ledger of test_ledger (8 requests; 7 in analysis.ipynb) as records."""
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        sample(ledger)
        return [UsageRecord.from_ledger(r) for r in ledger.rows(notebook)]


def no_html(text: str) -> bool:
    return re.search(r"</?[a-z]", text) is None


def test_records_keep_what_the_ledger_has(tmp_path: Path) -> None:
    first, *_, interrupted = records(tmp_path)[:4]
    assert (first.time, first.model_requested, first.model_answered, first.model) == (
        AT, "deepseek-chat", "deepseek-v4-flash", "deepseek-v4-flash")
    assert (first.prompt_tokens, first.cache_hit_tokens, first.reasoning_tokens) == (563, 512, 60)
    assert first.cost == Decimal("0.0000410536") and first.cell == 3
    assert interrupted.outcome == "interrupted" and interrupted.cost is None
    assert (interrupted.prompt_tokens, interrupted.completion_tokens, interrupted.ttft) == (None, None, 0.8)


# --- the view --------------------------------------------------------------------------------
def test_text_form_has_totals_grand_total_and_sparkline(tmp_path: Path) -> None:
    view = UsageView(records(tmp_path), title="Usage of analysis.ipynb")
    text = repr(view)
    assert no_html(text)
    lines = text.splitlines()
    assert lines[0] == "Usage of analysis.ipynb"
    assert lines[3].split()[:2] == ["default", "deepseek-v4-flash"] and lines[3].endswith("$0.0002 + 1 unknown")
    assert lines[5].endswith("unknown") and "$0" not in lines[5]  # the unpriced model: never $0
    assert lines[6] == (
        "Total: $0.339 + 2 unknown (exactly $0.3390164624) · 7 requests (2 without usage) · "
        "302,977 input tokens (67% from cache) · 50,372 output tokens (20,171 reasoning)"
    )
    assert lines[7] == "Spend over time: $0.339 in 7 requests at 2026-06-10 09:04 UTC; 2 with unknown cost, not plotted"
    assert lines[8] == "█ 2026-06-10 09:04 UTC"


def test_html_form_has_totals_and_the_chart(tmp_path: Path) -> None:
    html = UsageView(records(tmp_path, None), title="Usage of every notebook", by=ALL_BY)._repr_html_()
    assert "<strong>Usage of every notebook</strong>" in html
    assert "<th style='text-align:left'>notebook</th>" in html and "other.ipynb" in html
    assert "$0.0002 + 1 unknown" in html and "$0.3388" in html
    assert "Total: <strong>$0.3392 + 2 unknown</strong>" in html and "(exactly $0.3391610824)" in html
    assert "66% from cache" in html
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    assert len(circles(svg)) == 6  # 5 priced requests and the free failure (at $0), not the 2 unknown


def test_untrusted_session_names_are_escaped(tmp_path: Path) -> None:
    evil = [replace(r, session="<script>alert(1)</script>") for r in records(tmp_path)]
    view = UsageView(evil, title="Usage of <b>nb</b>")
    html = view._repr_html_()
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    assert "<script>alert(1)</script>" in repr(view)  # text is shown as it is


def test_empty_and_all_unknown_views_say_so(tmp_path: Path) -> None:
    empty = UsageView([], title="Usage of analysis.ipynb")
    assert repr(empty).splitlines()[-2:] == ["(empty)", "No requests recorded yet."]
    assert "<svg" not in empty._repr_html_() and "No requests recorded yet." in empty._repr_html_()
    unknown = [r for r in records(tmp_path) if r.model == "mystery"]
    html = UsageView(unknown)._repr_html_()
    assert "<svg" not in html and "Total: <strong>unknown</strong>" in html and "$0.00" not in html
    assert "no known cost in 1 request" in html


def emulated(tmp_path: Path) -> list[UsageRecord]:
    """The sample ledger's 7 requests of analysis.ipynb, then 3 the emulator answered: two
    priced (what DeepSeek would charge: $0.0001754088) and one interrupted (no usage)."""
    rs = records(tmp_path)
    return rs + [replace(r, offline=True, cell=8 + i, time=AT + timedelta(minutes=5 + i)) for i, r in enumerate(rs[1:4])]


def test_emulator_requests_are_shown_apart_and_never_spent(tmp_path: Path) -> None:
    rs = emulated(tmp_path)
    text = repr(UsageView(rs, title="Usage of analysis.ipynb"))
    lines = text.splitlines()
    assert lines[3].split()[:2] == ["default", "deepseek-v4-flash"] and lines[3].endswith("$0.0002 + 1 unknown")
    assert lines[4].startswith("default  deepseek-v4-flash (emulator)  3 (1 without usage)")
    assert lines[4].endswith("  $0.0002 + 1 unknown if billed (emulator)")
    assert lines[7] == (  # the billed total is what it was without them
        "Total: $0.339 + 2 unknown (exactly $0.3390164624) · emulator, not billed: $0.0002 + 1 unknown · "
        "10 requests (3 without usage, 3 emulator) · 304,828 input tokens (67% from cache) · "
        "50,512 output tokens (20,222 reasoning)"
    )
    assert lines[8].startswith("Spend over time: $0.339 in 10 requests")
    rows = UsageRows(rs)
    assert (rows.total_cost, rows.unknown_cost) == (Decimal("0.3390164624"), 2)
    (session,) = [t for t in rows.totals(("session",)) if t.key == ("default",)]  # mixed in one group
    assert session.cost == Decimal("0.0002164624") and session.emulator_cost == Decimal("0.0001754088")
    assert session.cost_text == "$0.0002 + 1 unknown; $0.0002 + 1 unknown if billed (emulator)"
    html = UsageView(rs)._repr_html_()
    assert "Total: <strong>$0.339 + 2 unknown</strong>" in html and "emulator, not billed: $0.0002 + 1 unknown" in html
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    dots = circles(svg)
    assert len(dots) == 5 + 3  # 4 priced, the free failure, and the emulator's 3 at $0: the line stays flat
    assert [d.get("cy") for d in dots[-4:]] == [dots[-4].get("cy")] * 4
    tips = [d.find(f"{SVG}title").text or "" for d in dots[-3:]]  # type: ignore[union-attr]
    assert tips[0].endswith("cell 8 · $0.0001 if billed (emulator): $0.00 (total $0.339)")
    assert tips[2].endswith("cell 10 · interrupted · unknown if billed (emulator): $0.00 (total $0.339)")


def test_a_notebook_only_on_the_emulator_has_spent_nothing(tmp_path: Path) -> None:
    only = emulated(tmp_path)[-3:]
    view = UsageView(only, title="Usage of analysis.ipynb")
    lines = repr(view).splitlines()
    assert lines[3].startswith("default  deepseek-v4-flash (emulator)")
    assert lines[4] == (
        "Total: $0.00 · emulator, not billed: $0.0002 + 1 unknown · 3 requests (1 without usage, 3 emulator) · "
        "1,851 input tokens (48% from cache) · 140 output tokens (51 reasoning)"
    )
    # no chart of a flat line at "$0.00": the view says there is no billed spend
    assert lines[5:] == ["Spend over time: nothing billed in 3 requests from 2026-06-10 09:09 to 09:11 UTC "
                         "(3 answered by the emulator)"]  # fmt: skip
    html = view._repr_html_()
    assert "Total: <strong>$0.00</strong> · emulator, not billed: $0.0002 + 1 unknown · 3 requests" in html
    assert "<svg" not in html and "nothing billed in 3 requests" in html
    assert UsageRows(only).total_cost == 0 and UsageRows(only).unknown_cost == 0


def replayed(tmp_path: Path) -> list[UsageRecord]:
    """The sample, then its first two requests answered again from the cache (no request, $0)."""
    rs = records(tmp_path)
    return rs + [replace(r, outcome="cached", cost=Decimal(0), saved=r.cost, request_key="k" * 64,
                         time=AT + timedelta(hours=1, minutes=i)) for i, r in enumerate(rs[:2])]  # fmt: skip


def test_answers_from_the_cache_cost_nothing_and_the_view_says_what_they_saved(tmp_path: Path) -> None:
    rs = replayed(tmp_path)
    lines = repr(UsageView(rs, title="Usage of analysis.ipynb")).splitlines()
    assert lines[3].startswith("default  deepseek-v4-flash  6 (1 without usage, 2 from the cache)")
    assert lines[3].endswith("  $0.0002 + 1 unknown; the cache saved $0.0002")
    assert lines[6] == (  # the billed total and the tokens spent are what they were without them
        "Total: $0.339 + 2 unknown (exactly $0.3390164624) · the cache saved $0.0002 (2 answers) · "
        "9 requests (2 without usage, 2 from the cache) · 302,977 input tokens (67% from cache) · "
        "50,372 output tokens (20,171 reasoning)"
    )
    rows = UsageRows(rs)
    assert (rows.total_cost, rows.unknown_cost) == (Decimal("0.3390164624"), 2)
    (total,) = rows.totals(())
    assert (total.cached, total.saved) == (2, Decimal("0.0000410536") + Decimal("0.00014462"))
    html = UsageView(rs)._repr_html_()
    assert "the cache saved $0.0002 (2 answers)" in html
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    tips = [d.find(f"{SVG}title").text or "" for d in circles(svg)[-2:]]  # type: ignore[union-attr]
    assert all("from the cache" in tip and "saved" in tip for tip in tips)


def test_exports_keep_the_request_key_and_what_the_cache_saved(tmp_path: Path) -> None:
    rows = UsageRows(replayed(tmp_path))
    with rows.to_csv(tmp_path / "u.csv").open(newline="", encoding="utf-8") as f:
        back = list(csv.DictReader(f))
    assert [r["outcome"] for r in back[-2:]] == ["cached", "cached"]
    assert (back[-1]["cost"], back[-1]["saved"], back[-1]["request_key"]) == ("0", "0.00014462", "k" * 64)
    assert back[0]["saved"] == "" and back[0]["request_key"] == ""
    df = rows.to_pandas()
    assert df["saved"].dropna().sum() == Decimal("0.0001856736")


def test_requests_that_cost_nothing_draw_no_flat_chart() -> None:
    free = spread(3, Decimal(0))
    assert spend_chart_svg(free) == "" and sparkline(free) == ""
    assert summary(series(free)) == "Spend over time: nothing billed in 3 requests from 2026-06-10 09:04 to 09:18 UTC"


def test_exports_say_which_requests_the_emulator_answered(tmp_path: Path) -> None:
    rows = UsageRows(emulated(tmp_path))
    assert COLUMNS[-4:] == ("offline", "request_key", "run_id", "saved")
    with rows.to_csv(tmp_path / "u.csv").open(newline="", encoding="utf-8") as f:
        back = list(csv.DictReader(f))
    assert [r["offline"] for r in back] == ["False"] * 7 + ["True"] * 3
    assert back[7]["cost"] == "0.00014462"  # what DeepSeek would have charged, exactly
    df = rows.to_pandas()
    assert df["offline"].dtype == bool and df["offline"].tolist() == [False] * 7 + [True] * 3
    assert df[~df["offline"]]["cost"].dropna().sum() == rows.total_cost


# --- rows, CSV, pandas -------------------------------------------------------------------------
def tiny(tmp_path: Path) -> UsageRows:
    rs = records(tmp_path)
    rs.append(replace(rs[1], cost=Decimal("1E-7"), time=AT + timedelta(hours=1)))  # str() would say 1E-7
    return UsageRows(rs, title="Usage of analysis.ipynb")


def test_rows_are_a_list_that_displays_as_the_view(tmp_path: Path) -> None:
    rows = tiny(tmp_path)
    assert len(rows) == 8 and isinstance(rows[0], UsageRecord)
    assert repr(rows) == repr(UsageView(rows, title="Usage of analysis.ipynb"))
    assert rows._repr_html_() == UsageView(rows, title="Usage of analysis.ipynb")._repr_html_()
    assert rows.total_cost == Decimal("0.3390165624") and rows.unknown_cost == 2
    last = rows[-2:]
    assert isinstance(last, UsageRows) and last.title == rows.title and len(last) == 2
    assert [t.key for t in rows.totals(("session",))] == [("default",), ("review",)]


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    rows = tiny(tmp_path)
    path = rows.to_csv(tmp_path / "usage.csv")
    with path.open(newline="", encoding="utf-8") as f:
        back = list(csv.DictReader(f))
    assert tuple(back[0]) == COLUMNS and len(back) == 8
    assert [r["cost"] for r in back] == [
        "0.0000410536", "0.00014462", "0.0000307888", "", "0.3388", "", "", "0.0000001"]
    assert [Decimal(r["cost"]) for r in back if r["cost"]] == [r.cost for r in rows if r.cost is not None]
    interrupted = back[3]
    assert interrupted["outcome"] == "interrupted" and interrupted["ttft"] == "0.8"
    assert all(interrupted[name] == "" for name in ("prompt_tokens", "cache_hit_tokens", "completion_tokens"))
    assert back[0]["prompt_tokens"] == "563" and back[0]["cell"] == "3" and back[4]["cell"] == ""
    assert datetime.fromisoformat(back[0]["time"]) == AT and back[0]["time"].endswith("+00:00")


def test_csv_path_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert UsageRows().to_csv("~/empty.csv") == tmp_path / "empty.csv"
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8").strip() == ",".join(COLUMNS)


def test_to_pandas_types_and_values(tmp_path: Path) -> None:
    import pandas as pd

    rows = tiny(tmp_path)
    df = rows.to_pandas()
    assert list(df.columns) == list(COLUMNS) and len(df) == 8
    assert isinstance(df["time"].dtype, pd.DatetimeTZDtype) and str(df["time"].dtype.tz) == "UTC"
    assert df["time"].iloc[0] == pd.Timestamp(AT)
    for name in ("cell", "prompt_tokens", "cache_hit_tokens", "completion_tokens", "reasoning_tokens"):
        assert df[name].dtype == "Int64"
    assert df["prompt_tokens"].isna().tolist() == [False, False, False, True, False, True, False, False]
    assert df["prompt_tokens"].iloc[0] == 563
    assert df["cost"].dtype == object and df["cost"].iloc[0] == Decimal("0.0000410536")
    assert df["cost"].iloc[3] is None
    assert df["cost"].sum() == rows.total_cost  # exact
    assert df.groupby("session")["cost"].sum()["review"] == Decimal("0.3388")
    assert df["ttft"].dtype == "float64" and df["ttft"].iloc[3] == 0.8
    assert UsageRows().to_pandas().columns.tolist() == list(COLUMNS)


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        UsageRows().to_pandas()


def test_the_view_loads_no_io_library() -> None:
    code = "import sys, evo_magic.ledger.report; print(sorted({'sqlite3', 'IPython', 'pandas'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]  # this checkout, not an installed copy
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout == "[]\n"


MATH_AT = datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)


def dollars_record(cost: str, offline: bool = False, minutes: int = 0) -> UsageRecord:
    return UsageRecord(
        time=MATH_AT + timedelta(minutes=minutes), notebook="n.ipynb", session="default", origin="cell", cell=1,
        model_requested="deepseek-v4-flash", model_answered="deepseek-v4-flash", protocol="openai",
        prompt_tokens=10, cache_hit_tokens=0, cache_miss_tokens=10, completion_tokens=5, reasoning_tokens=0,
        cost=Decimal(cost), ttft=0.1, elapsed=1.0, outcome="ok", error=None, offline=offline,
    )  # fmt: skip


MATH_OUTPUTS: dict[str, Callable[[], str]] = {
    "usage chart": lambda: UsageRows([dollars_record("0.0012"), dollars_record("0.0004", minutes=5)])._repr_html_(),
    "usage, emulator only": lambda: UsageRows([dollars_record("0.0012", offline=True)])._repr_html_(),
}


@pytest.mark.parametrize("name", list(MATH_OUTPUTS))
def test_every_html_output_is_skipped_by_mathjax(name: str) -> None:
    assert_skipped_by_mathjax(name, MATH_OUTPUTS[name]())
