"""Every failure kind, injected by the emulator, run through %%deepseek in a real kernel.

Each test checks what the user sees (a one-line error or a marked partial answer, never a
traceback) and that the session stays consistent so the next cell works.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from .harness import Kernel

pytestmark = pytest.mark.kernel


def dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here: connections are refused
    return port


@pytest.fixture(scope="module")
def emu() -> Iterator[object]:
    from evo_magic.emulator import Emulator

    with Emulator() as e:
        yield e


@pytest.fixture(scope="module")
def kernel(emu: object) -> Iterator[Kernel]:
    base = f"http://127.0.0.1:{dead_port()},{emu.url}"  # type: ignore[attr-defined]
    # TZ: a wait the server asks for is shown in local time
    k = Kernel({"EVOLINK_API_KEY": "sk-failure-test-9999", "EVOLINK_BASE_URL": base, "TZ": "UTC"})
    assert k.execute("%load_ext evo_magic").ok
    yield k
    k.close()


def history_len(kernel: Kernel) -> int:
    return int(kernel.execute("print(len(__import__('evo_magic').session('f').history))").text().strip())


def ask(kernel: Kernel, options: str = "") -> object:
    return kernel.execute(f"%%deepseek -s f {options}\nExplain retries")


def one_line(ex: object) -> str:
    text = ex.error_text.strip()  # type: ignore[attr-defined]
    assert len(text.splitlines()) == 1, text
    assert "Traceback" not in text
    return text


def test_refused_first_host_falls_back_and_keeps_one_connection(kernel: Kernel) -> None:
    ex = ask(kernel)
    assert ex.ok, ex.error_text  # type: ignore[attr-defined]
    assert history_len(kernel) == 2


def test_dead_first_host_and_503_twice_then_the_answer_comes_from_the_second(kernel: Kernel, emu: object) -> None:
    """EVOLINK_BASE_URL="A,B", A refusing connections, B answering 503 twice then 200."""
    sent = len(emu.requests)  # type: ignore[attr-defined]
    emu.fail_next("503", retry_after=None)  # type: ignore[attr-defined]
    emu.fail_next("503", retry_after=None)  # type: ignore[attr-defined]
    ex = kernel.execute("%%deepseek -s dead_first\nExplain retries")  # a new session starts at A
    assert ex.ok, ex.error_text  # type: ignore[attr-defined]
    assert "connection refused" not in ex.text() and "evo-banner error" not in ex.final_html()
    assert "retries" in ex.final_html()  # B's answer, shown
    assert len(emu.requests) == sent + 3  # type: ignore[attr-defined]  # B: 503, 503, 200


def test_a_long_retry_after_gives_up_at_once_saying_until_when(kernel: Kernel, emu: object) -> None:
    before = history_len(kernel)
    emu.fail_next("429", retry_after=3600)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert not ex.ok and ex.idle_at - ex.started < 10  # type: ignore[attr-defined]  # not 3 x 30 s
    line = one_line(ex)
    assert "HTTP 429: Rate Limit Reached" in line
    assert "— the server asks to wait 60 minutes (until " in line and "UTC); try again then" in line
    assert history_len(kernel) == before
    assert ask(kernel).ok


def test_a_retry_after_date_is_honoured(kernel: Kernel, emu: object) -> None:
    from email.utils import format_datetime

    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
    emu.fail_next("429", retry_after=when)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert ex.ok, ex.error_text  # type: ignore[attr-defined]
    assert ex.idle_at - ex.started >= 1.0  # type: ignore[attr-defined]  # waited as asked (1-3 s), not 0.1 s


def test_a_corrupt_gzip_error_body_is_one_line(kernel: Kernel, emu: object) -> None:
    emu.fail_next("gzip", status=400)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert not ex.ok
    assert "HTTP 400: the error body could not be decoded as gzip" in one_line(ex)
    emu.fail_next("gzip", status=503)  # type: ignore[attr-defined]
    assert ask(kernel).ok  # a 5xx with a corrupt body is still retried


@pytest.mark.parametrize("kind", ["429", "500", "502", "503"])
def test_retryable_statuses_are_retried_before_the_body(kernel: Kernel, emu: object, kind: str) -> None:
    before = history_len(kernel)
    emu.fail_next(kind, retry_after=0.05)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert ex.ok, ex.error_text  # type: ignore[attr-defined]
    assert history_len(kernel) == before + 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("401", "EVOLINK_API_KEY"),
        ("402", "balance"),
        ("context_length", "over the 1,048,565-token limit"),
    ],
)
def test_client_errors_show_vendor_text_and_a_hint(kernel: Kernel, emu: object, kind: str, expected: str) -> None:
    before = history_len(kernel)
    sent = len(emu.requests)  # type: ignore[attr-defined]
    emu.fail_next(kind)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert not ex.ok and expected in one_line(ex)
    assert len(emu.requests) == sent + 1  # type: ignore[attr-defined]  # never retried
    assert history_len(kernel) == before
    assert ask(kernel).ok  # the next cell works


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("reset", "connection broke mid-answer"),
        ("malformed", "malformed event"),
        ("error_event", "upstream overloaded"),
        ("gzip", "could not be decoded as gzip ("),
    ],
)
def test_mid_stream_failures_keep_the_partial_answer(kernel: Kernel, emu: object, kind: str, expected: str) -> None:
    before = history_len(kernel)
    sent = len(emu.requests)  # type: ignore[attr-defined]
    emu.fail_next(kind, after=40)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert not ex.ok and expected in one_line(ex)
    html = ex.final_html()  # type: ignore[attr-defined]
    assert "evo-banner error" in html and len(html) > 500  # partial answer shown and marked
    assert len(emu.requests) == sent + 1  # type: ignore[attr-defined]  # no replay once the body started
    assert history_len(kernel) == before
    assert ask(kernel).ok


def test_stalled_stream_times_out(kernel: Kernel, emu: object) -> None:
    kernel.execute("%config DeepSeekMagics.read_timeout = 1.0")
    try:
        emu.fail_next("stall", after=30, seconds=3)  # type: ignore[attr-defined]
        ex = ask(kernel)
        assert not ex.ok and "no data from the server for 1 s" in one_line(ex)
        assert "read_timeout" in one_line(ex)
    finally:
        kernel.execute("%config DeepSeekMagics.read_timeout = 180.0")
    assert ask(kernel).ok


@pytest.mark.parametrize(
    ("finish", "banner"),
    [
        ("length", "— <code>%deepseek continue</code>, or raise <code>--max-tokens</code>"),
        ("content_filter", "content filter"),
        ("insufficient_system_resource", "insufficient_system_resource"),
    ],
)
def test_incomplete_finish_reasons_are_shown_distinctly(kernel: Kernel, emu: object, finish: str, banner: str) -> None:
    emu.fail_next("finish", finish=finish)  # type: ignore[attr-defined]
    ex = ask(kernel)
    assert ex.ok  # the API answered; the answer is marked, not an exception
    assert banner in ex.final_html()  # type: ignore[attr-defined]
