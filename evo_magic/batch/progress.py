"""The live view of a run: rows done / failed / left, rows per second, tokens, cost so far,
the cache-hit share and the time left.

:class:`Counts` is the run's state, updated by the run's loop in the kernel's main thread;
the views read it: :class:`WidgetProgress` (an ipywidgets HTML line and a Stop button, in a
Jupyter kernel; the button's clicks are handled in a kernel subshell, so they reach a run
that blocks the cell — :mod:`~evo_magic.batch.subshell`), :class:`TextProgress` (tqdm on
stderr in a terminal, one line rewritten in place) or none. Updates are coalesced — a view
redraws at most :data:`REDRAW_S` apart, whatever the rate of rows — so a run of thousands of
rows a second sends a few messages a second to the front end and the kernel stays responsive.
``on_progress(counts)``, when given, is called at the same pace; ``counts.stop()`` ends the
run as the Stop button does.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any, Literal, Protocol

from ..display.money import format_money

REDRAW_S = 0.25
# A rate (and the time left) is shown once this run's own requests have answered this many rows
# over at least this long since its first request went out: earlier, one wave of answers over the
# time spent reading kept ones read as a fraction of the run's pace ("11 s left" for a 5 s run).
RATE_AFTER_ROWS = 3
RATE_AFTER_S = 1.0
MONEY_WIDTH = len("<$0.0001")  # the cost so far, padded: the same width up to $9,999.99
ProgressMode = Literal["auto", "widget", "text", "none"]


@dataclass
class Counts:
    """A run's progress so far (this call's requests; rows answered earlier count as done)."""

    total: int
    done: int = 0
    failed: int = 0
    kept: int = 0  # done without a request: answered earlier, or identical to another row
    tokens_in: int = 0
    tokens_out: int = 0
    cache_hit_tokens: int = 0
    cost: Decimal = Decimal(0)
    unknown_cost: int = 0
    started: float = field(default_factory=time.monotonic)
    first_sent: float | None = None  # when this run's first request went out (the rate's clock)
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @property
    def left(self) -> int:
        return max(0, self.total - self.done - self.failed)

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def sent(self) -> None:
        """A request of this run went out: the first one starts the rate's clock."""
        if self.first_sent is None:
            self.first_sent = self.clock()

    @property
    def rate(self) -> float | None:
        """Rows answered by this run's requests per second since its first request; None until
        :data:`RATE_AFTER_ROWS` rows over :data:`RATE_AFTER_S` say it."""
        asked = self.done + self.failed - self.kept
        if self.first_sent is None or asked < RATE_AFTER_ROWS:
            return None
        seconds = self.clock() - self.first_sent
        return asked / seconds if seconds >= RATE_AFTER_S else None

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        return self.left / rate if rate else None

    @property
    def cache_hit_share(self) -> float | None:
        return self.cache_hit_tokens / self.tokens_in if self.tokens_in else None

    def stop(self) -> None:
        """End the run as soon as it can (within a second): finished rows are kept."""
        self.stop_event.set()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def line(self) -> str:
        """``412 done · 3 failed · 585 left · 96.1 rows/s · 51,204 tokens in (87% cached), 2,060 out ·
        $0.0061 · 6 s left``"""
        parts = [f"{self.done:,} done", f"{self.failed:,} failed", f"{self.left:,} left"]
        if self.rate is not None:
            parts.append(f"{self.rate:,.1f} rows/s")
        share = "" if self.cache_hit_share is None else f" ({self.cache_hit_share:.0%} cached)"
        parts.append(f"{self.tokens_in:,} tokens in{share}, {self.tokens_out:,} out")
        money = format_money(self.cost, fixed=True).rjust(MONEY_WIDTH)  # one width as it grows: no jitter
        parts.append(money + (f" + {self.unknown_cost} unknown" if self.unknown_cost else ""))
        if self.seconds_left is not None and self.left:
            parts.append(f"{_duration(self.seconds_left)} left")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


class View(Protocol):
    def draw(self, counts: Counts) -> None: ...

    def close(self, counts: Counts, final: str) -> None: ...


class Coalesced:
    """Hands ``counts`` to a view (and to ``on_progress``) at most every :data:`REDRAW_S`."""

    def __init__(self, view: View, on_progress: Callable[[Counts], object] | None = None) -> None:
        self.view = view
        self.on_progress = on_progress
        self._last = 0.0
        self.draws = 0

    def update(self, counts: Counts, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < REDRAW_S:
            return
        self._last = now
        self.draws += 1
        self.view.draw(counts)
        if self.on_progress is not None:
            self.on_progress(counts)

    def close(self, counts: Counts, final: str) -> None:
        self.view.close(counts, final)


class NoView:
    def draw(self, counts: Counts) -> None:
        """Nothing shown."""

    def close(self, counts: Counts, final: str) -> None:
        """Nothing shown."""


class TextProgress:
    """tqdm on stderr (a plain line rewritten in place without tqdm)."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None
        try:
            from tqdm import tqdm
        except ImportError:
            return
        # tqdm's own rate and ETA would count the rows answered earlier (a resumed run at
        # "29365.55row/s"): the run's line (the postfix) says the rate and the time left.
        self.bar = tqdm(total=total, unit="row", file=self.stream, dynamic_ncols=True, mininterval=REDRAW_S,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")  # fmt: skip

    def draw(self, counts: Counts) -> None:
        if self.bar is not None:
            self.bar.n = counts.done + counts.failed
            self.bar.set_postfix_str(counts.line(), refresh=True)
            return
        self.stream.write("\r" + counts.line())
        self.stream.flush()

    def close(self, counts: Counts, final: str) -> None:
        if self.bar is not None:
            self.draw(counts)
            self.bar.close()
            self.stream.write(final + "\n")  # the closing line under the bar, as the widget ends
            self.stream.flush()
            return
        self.stream.write("\r" + final + "\n")
        self.stream.flush()


Clicks = Callable[[Any], bool]  # routes a widget's clicks past the running cell; False if it cannot
INTERRUPT_HINT = "to stop: interrupt the kernel (■); finished rows are kept"


# the line's padding is kept and its digits are of one width, so its figures do not shift as they grow
_FIGURES = "font-size:90%;white-space:pre-wrap;font-variant-numeric:tabular-nums"


class WidgetProgress:
    """A progress bar, the figures and a Stop button (ipywidgets), in the running cell.

    ``clicks(button)`` makes the button's clicks reach the kernel while the run blocks the
    cell; where it cannot, a hint to interrupt the kernel takes the button's place."""

    def __init__(self, counts: Counts, clicks: Clicks | None = None) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(value=0, min=0, max=max(counts.total, 1), layout=w.Layout(width="40%"))
        self.text = w.HTML(value="starting…")
        self.button = w.Button(description="Stop", icon="stop", tooltip="End the run; finished rows are kept")
        self.button.on_click(lambda _: counts.stop())
        self.live = clicks is not None and clicks(self.button)
        stop: Any = self.button if self.live else w.HTML(f"<span style='opacity:.7'>{escape(INTERRUPT_HINT)}</span>")
        self.box = w.VBox([w.HBox([self.bar, stop]), self.text])
        display(self.box)

    def draw(self, counts: Counts) -> None:
        self.bar.value = counts.done + counts.failed
        state = " — stopping…" if counts.stopping else ""
        self.text.value = f"<span style='{_FIGURES}'>{escape(counts.line())}{state}</span>"
        if counts.stopping:
            self.button.disabled = True

    def close(self, counts: Counts, final: str) -> None:
        self.draw(counts)
        self.bar.bar_style = "success" if not counts.failed and not counts.left else "warning"
        self.button.layout.display = "none"
        self.text.value = f"<span style='{_FIGURES}'>{escape(final)}</span>"  # its lines kept (a note under it)


def open_progress(
    mode: ProgressMode | bool,
    counts: Counts,
    on_progress: Callable[[Counts], object] | None,
    clicks: Clicks | None = None,
) -> Coalesced:
    """The run's coalesced view: ``auto`` is a widget in a Jupyter kernel, text in a terminal
    IPython or a plain Python process with a terminal, none otherwise (``clicks``: see
    :class:`WidgetProgress`)."""
    if mode is True:
        mode = "auto"
    if mode is False:
        mode = "none"
    if mode == "auto":
        from ..display.live import auto_mode

        found = auto_mode()
        mode = found if found != "none" or not _terminal() else "text"
    view: View
    if mode == "widget":
        view = WidgetProgress(counts, clicks)
    elif mode == "text":
        view = TextProgress(counts.total)
    else:
        view = NoView()
    return Coalesced(view, on_progress)


def _terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


__all__ = ["Coalesced", "Counts", "NoView", "ProgressMode", "TextProgress", "WidgetProgress", "open_progress"]
