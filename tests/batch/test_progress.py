"""The run's progress: the figures of one line, the coalescing of redraws, and the views (text,
and the widget whose Stop button needs its clicks routed past the running cell)."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import pytest

from evo_magic.batch import progress
from evo_magic.batch.progress import INTERRUPT_HINT, Coalesced, Counts, TextProgress, WidgetProgress
from evo_magic.display.money import format_money


def test_the_line_says_done_failed_left_rate_tokens_cache_cost_and_time_left() -> None:
    c = Counts(1000, done=412, failed=3, tokens_in=51_204, tokens_out=2_060, cache_hit_tokens=44_000,
               cost=Decimal("0.0061"), first_sent=time.monotonic() - 4.15)  # fmt: skip
    line = c.line()
    assert line.startswith("412 done · 3 failed · 585 left · 100.0 rows/s · 51,204 tokens in (86% cached), 2,060 out")
    assert "$0.0061" in line and line.endswith("6 s left")
    assert Counts(10).line() == "0 done · 0 failed · 10 left · 0 tokens in, 0 out ·  $0.0000"


def test_rows_answered_earlier_do_not_count_in_the_rate() -> None:
    c = Counts(100, done=60, kept=50, first_sent=time.monotonic() - 1.0)
    assert c.rate is not None and 9 < c.rate < 10.5


def test_the_money_keeps_its_width_as_it_grows() -> None:
    """$0.0008 -> $0.0030 -> $0.0123 -> $1.25: one width, so the tqdm and widget lines hold still."""
    c = Counts(100, tokens_in=1, tokens_out=1)
    shown = []
    for cost in ("0", "0.00004", "0.0008", "0.003", "0.0123", "0.12", "0.5", "1.25", "12.5", "999.99"):
        c.cost = Decimal(cost)
        money = c.line().split(" · ")[4]
        assert money.strip() == format_money(c.cost, fixed=True)
        shown.append(money)
    assert {len(m) for m in shown} == {progress.MONEY_WIDTH}, shown
    c.unknown_cost = 2
    assert c.line().split(" · ")[4] == " $999.99 + 2 unknown"


class Clock:
    """A fake ``time.monotonic``: it moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_resumed_run_shows_no_rate_or_time_left_until_its_own_answers_give_one() -> None:
    """Reading 900 kept answers took 5 s before the first request went out; the first answers
    came 0.2 s after it. The rate counts from the first request, once a few answers and a second
    are in: no "11 s left" at first for a run that ends in 2 s."""
    clock = Clock()
    c = Counts(1000, done=900, kept=900, clock=clock, started=clock())
    clock.now += 5.0
    c.sent()
    clock.now += 0.2
    c.done += 16
    assert c.rate is None and c.seconds_left is None
    assert c.line() == "916 done · 0 failed · 84 left · 0 tokens in, 0 out ·  $0.0000"
    clock.now += 0.8
    c.done += 64
    c.sent()  # later requests do not move the run's clock
    assert c.rate == pytest.approx(80.0) and c.seconds_left == pytest.approx(0.25)
    assert " · 80.0 rows/s · " in c.line() and c.line().endswith(" · 0 s left")
    quick = Counts(10, clock=clock, started=clock())
    quick.sent()
    clock.now += 1.5
    quick.done = progress.RATE_AFTER_ROWS - 1
    assert quick.rate is None  # a second, but too few answers to say
    quick.done += 1
    assert quick.rate == pytest.approx(progress.RATE_AFTER_ROWS / 1.5)


class Drawn:
    def __init__(self) -> None:
        self.drawn: list[int] = []
        self.closed: list[str] = []

    def draw(self, counts: Counts) -> None:
        self.drawn.append(counts.done)

    def close(self, counts: Counts, final: str) -> None:
        self.closed.append(final)


def test_redraws_are_coalesced_whatever_the_rate_and_on_progress_follows_them() -> None:
    view, seen = Drawn(), []
    pace = Coalesced(view, on_progress=lambda c: seen.append(c.done))
    counts = Counts(100_000)
    start = time.monotonic()
    while time.monotonic() - start < 0.6:
        counts.done += 1
        pace.update(counts)
    pace.update(counts, force=True)
    assert 3 <= len(view.drawn) <= 5 and seen == view.drawn and view.drawn[-1] == counts.done


def test_stop_is_seen_by_the_counts_and_the_event() -> None:
    c = Counts(3)
    assert not c.stopping
    c.stop()
    assert c.stopping and c.stop_event.is_set()


def test_text_progress_without_tqdm_rewrites_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # import tqdm fails
    out = io.StringIO()
    view = TextProgress(10, stream=out)
    counts = Counts(10, done=4)
    view.draw(counts)
    view.close(counts, "10 rows: 10 answered")
    assert out.getvalue().startswith("\r4 done · 0 failed · 6 left · ") and "\n" not in out.getvalue()[:-1]
    assert out.getvalue().endswith("\r10 rows: 10 answered\n")


def test_tqdm_shows_the_runs_own_rate_and_time_left_not_its_own_from_resumed_rows() -> None:
    """tqdm's own rate and ETA count rows answered earlier (a resumed run showed "29365.55row/s,
    00:00 left" beside "7.7 rows/s · 21 s left"): only the run's figures are shown."""
    pytest.importorskip("tqdm")
    out = io.StringIO()
    view = TextProgress(300, stream=out)
    counts = Counts(300, done=137, kept=130, first_sent=time.monotonic() - 1.0)
    view.draw(counts)
    view.close(counts, "300 rows: 137 answered")
    bar, final = out.getvalue().rstrip("\n").split("\r")[-1].split("\n")[-2:]
    assert "137/300" in bar and "46%" in bar and "row/s" not in bar, bar
    assert "<" not in bar and bar.rstrip().endswith(" s left]"), bar  # no tqdm ETA: the run's time left
    assert final == "300 rows: 137 answered"  # the closing line, as the widget and the plain line end


def test_the_widget_keeps_its_stop_button_only_when_its_clicks_can_reach_a_running_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("ipywidgets")
    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    counts = Counts(5)
    live = WidgetProgress(counts, clicks=lambda button: True)
    assert live.live and live.button in shown[0].children[0].children
    live.draw(counts)
    assert "white-space:pre-wrap" in live.text.value and "tabular-nums" in live.text.value  # money padding holds
    live.button.click()
    assert counts.stopping
    blocked = WidgetProgress(Counts(5), clicks=lambda button: False)
    stop = shown[1].children[0].children[1]
    assert not blocked.live and blocked.button is not stop and INTERRUPT_HINT in stop.value
    blocked.close(Counts(5, done=5), "5 rows: 5 answered")
    assert blocked.text.value.endswith("5 rows: 5 answered</span>")


def test_no_view_outside_a_kernel_and_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # outside IPython whatever ran before in this process (another test may have made a shell)
    monkeypatch.setattr("evo_magic.display.live.auto_mode", lambda: "none")
    monkeypatch.setattr(progress, "_terminal", lambda: False)
    assert isinstance(progress.open_progress("auto", Counts(1), None).view, progress.NoView)
    assert isinstance(progress.open_progress(False, Counts(1), None).view, progress.NoView)
