"""engine: how the kernel's thread takes the results that came back."""

from __future__ import annotations

import queue
import threading
import time

from evo_magic.batch.engine import POLL_S, take_results


def test_results_already_there_are_taken_at_once_not_after_a_tenth_of_a_second() -> None:
    """A result waits in memory only while the kernel handles the ones before it: a SIGKILL
    then loses at most those (the crash test counts them), not a tenth of a second's worth."""
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    for i in range(3):
        q.put(i)
    started = time.monotonic()
    assert take_results(q) == [0, 1, 2]
    assert time.monotonic() - started < POLL_S / 4


def test_with_nothing_there_it_waits_for_the_first_result_up_to_the_poll() -> None:
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    started = time.monotonic()
    assert take_results(q) == []
    assert time.monotonic() - started >= POLL_S * 0.9
    threading.Timer(0.02, q.put, ("late",)).start()
    assert take_results(q) == ["late"]
