"""Tests of ``evo_magic.ledger.chart``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from evo_magic.ledger.chart import MAX_POINTS, SpendPoint, series, sparkline, spend_chart_svg, summary
from evo_magic.ledger.pricing import format_money

from .helpers import AT, SVG, circles, spread


# --- the spend chart ---------------------------------------------------------------------------
def test_chart_is_well_formed_accessible_svg_with_a_dot_per_priced_request() -> None:
    points = spread(14)
    points[3] = replace(points[3], cost=None)
    svg = spend_chart_svg(points)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert (root.get("width"), root.get("height")) == ("560", "140")
    label = root.get("aria-label")
    assert label == root.findtext(f"{SVG}title")
    assert label == (
        "Spend over time: $0.0013 in 14 requests from 2026-06-10 09:04 to 10:35 UTC; 1 with unknown cost, not plotted"
    )
    assert len(circles(svg)) == 13
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["$0.0013", "$0.00", "2026-06-10 09:04", "10:35 UTC"]
    assert "currentColor" in svg and "var(--jp-brand-color1" in svg  # follows light and dark themes
    assert spend_chart_svg(points) == svg  # deterministic


def test_chart_dots_climb_to_the_top_at_the_last_request() -> None:
    svg = spend_chart_svg(spread(5))
    dots = [(float(c.get("cx") or 0), float(c.get("cy") or 0)) for c in circles(svg)]
    assert dots == sorted(dots, key=lambda d: d[0])  # left to right in time
    assert [y for _, y in dots] == sorted((y for _, y in dots), reverse=True)  # spend only grows (y is down)
    assert dots[-1] == (546.0, 12.0)  # the last request, at the total


def test_chart_escapes_untrusted_names() -> None:
    svg = spend_chart_svg(spread(3, label="<script>alert(1)</script> & \x01"), subject='<script>"nb"')
    assert "<script" not in svg
    root = ET.fromstring(svg)  # still well-formed: the control character is dropped
    assert root.get("aria-label", "").startswith('Spend over time of <script>"nb": ')
    tooltip = root.findtext(f".//{SVG}circle/{SVG}title") or ""
    assert tooltip.startswith("<script>alert(1)</script> & : $0.0001")


def test_no_rows_no_chart() -> None:
    assert spend_chart_svg([]) == "" and sparkline([]) == ""
    assert summary(series([])) == "Spend over time: no requests yet"


def test_one_row_is_one_dot_in_the_middle() -> None:
    svg = spend_chart_svg([(AT, Decimal("0.5"))])
    (dot,) = circles(svg)
    assert (dot.get("cx"), dot.get("cy")) == ("305.0", "12.0")
    assert ET.fromstring(svg).get("aria-label") == "Spend over time: $0.50 in 1 request at 2026-06-10 09:04 UTC"
    assert sparkline([(AT, Decimal("0.5"))]) == "█ 2026-06-10 09:04 UTC"


def test_unknown_costs_are_counted_never_plotted_as_zero() -> None:
    points = spread(3, cost=None)
    assert spend_chart_svg(points) == "" and sparkline(points) == ""
    assert summary(series(points)) == (
        "Spend over time: no known cost in 3 requests from 2026-06-10 09:04 to 09:18 UTC; "
        "3 with unknown cost, not plotted"
    )


def test_thousands_of_requests_are_summed_into_intervals() -> None:
    points = [SpendPoint(AT + timedelta(seconds=13 * i), Decimal("0.00001"), "default") for i in range(5000)]
    points.append(SpendPoint(AT + timedelta(hours=1), None))
    svg = spend_chart_svg(points)
    assert len(circles(svg)) == MAX_POINTS and len(svg) < 40_000
    label = ET.fromstring(svg).get("aria-label", "")
    assert label.startswith("Spend over time: $0.05 in 5,001 requests from 2026-06-10 09:04 to 2026-06-11 03:07 UTC")
    assert label.endswith("; 1 with unknown cost, not plotted (summed into 200 intervals)")
    s = series(points)
    assert sum(step.requests for step in s.steps) == 5000 and s.total == Decimal("0.05000")
    assert "25 requests" in (ET.fromstring(svg).findtext(f".//{SVG}circle/{SVG}title") or "")
    bursts = [SpendPoint(AT + timedelta(days=d, seconds=i), Decimal("0.001")) for d in (0, 3) for i in range(300)]
    assert len(circles(spend_chart_svg(bursts))) == 2  # empty intervals draw nothing


def test_sparkline_shows_spend_per_interval() -> None:
    points = [(AT, Decimal("0.01")), (AT + timedelta(minutes=30), Decimal("0.04")), (AT + timedelta(hours=1), None)]
    assert sparkline(points, width=4) == "2026-06-10 09:04 ▃▁█▁ 10:04 UTC"


def test_chart_money_labels_use_format_money() -> None:
    svg = spend_chart_svg([(AT, Decimal("1234.5")), (AT + timedelta(days=2), Decimal("0.00001"))])
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts[:2] == [format_money(Decimal("1234.50001")), "$0.00"] == ["$1,234.50", "$0.00"]
    assert texts[2:] == ["2026-06-10 09:04", "2026-06-12 09:04 UTC"]


def test_a_span_inside_one_minute_reads_at_that_minute() -> None:
    """Requests seconds apart print the same minute: "at 09:04 UTC", never "from 09:04 to 09:04"."""
    points = [(AT, Decimal("0.01")), (AT + timedelta(seconds=40), Decimal("0.02"))]
    s = series(points)
    assert summary(s) == "Spend over time: $0.03 in 2 requests at 2026-06-10 09:04 UTC"
    root = ET.fromstring(spend_chart_svg(points))
    assert [t.text for t in root.iter(f"{SVG}text")][2:] == ["2026-06-10 09:04 UTC"]
    assert sparkline(points, width=4) == "▅▁▁█ 2026-06-10 09:04 UTC"
    bucketed = series(points, max_points=1)
    assert [st.label for st in bucketed.steps] == ["2026-06-10 09:04 UTC"]
    wider = series([(AT, Decimal("0.01")), (AT + timedelta(seconds=70), Decimal("0.02"))], max_points=1)
    assert summary(wider).endswith("from 2026-06-10 09:04 to 09:05 UTC (summed into 1 intervals)")
    assert [st.label for st in wider.steps] == ["2026-06-10 09:04 to 09:05 UTC"]


def test_nothing_billed_says_no_intervals_of_a_chart_it_does_not_draw() -> None:
    """The emulator's 268 requests of a map run read "nothing billed in 268 requests at … UTC
    (summed into 73 intervals)": intervals of no chart."""
    points = [(AT + timedelta(seconds=i / 10), Decimal(0)) for i in range(MAX_POINTS + 68)]
    s = series(points)
    assert s.bucketed and not s.drawable and spend_chart_svg(s) == ""
    assert summary(s) == f"Spend over time: nothing billed in {MAX_POINTS + 68} requests at 2026-06-10 09:04 UTC"
