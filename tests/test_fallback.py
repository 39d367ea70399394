"""The retry and fallback policy of one request (evo_magic.fallback.Plan), table-tested without IO."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic import errors
from evo_magic.fallback import RETRY_AFTER_CAP_S, Failure, GiveUp, Plan, duration, until

from .profiles import examples

AT = datetime(2026, 5, 2, 13, 5, tzinfo=timezone.utc)
PATH = "/v1/chat/completions"


def failure(base: str, outcome: Any) -> Failure:
    """``outcome``: "refused", "closed", "timeout", a status, or (status, retry_after)."""
    url = base + PATH
    if outcome == "refused":
        error = errors.TransportError(f"cannot connect to {base} (connection refused)", url=base)
        return Failure(base, url, "unreachable", error, "connection refused")
    if outcome == "closed":
        error = errors.TransportError(f"{base} closed the connection without an answer", url=base)
        return Failure(base, url, "closed", error, "closed the connection without an answer")
    if outcome == "timeout":
        error = errors.StreamTimeout(f"{base} sent no answer within 180 s", url=base, retryable=False)
        return Failure(base, url, "final", error, "no answer in time")
    status, retry_after = outcome if isinstance(outcome, tuple) else (outcome, None)
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    return Failure.answered(base, url, errors.error_from_body(status, f"said {status}", headers, now=AT), AT)


def run(script: dict[str, list[Any]], *, start: int = 0, max_retries: int = 3) -> tuple[list[str], list[float], str]:
    """Drive a plan over ``script`` (each host's outcomes in turn; the last one repeats):
    the hosts tried, the waits, and "ok" or the one-line error given up with."""
    plan = Plan(list(script), start=start, max_retries=max_retries, rng=lambda: 1.0)
    tried: list[str] = []
    waits: list[float] = []
    base = plan.first
    while True:
        tried.append(base)
        outcomes = script[base]
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if outcome == 200:
            return tried, waits, "ok"
        step = plan.after(failure(base, outcome))
        if isinstance(step, GiveUp):
            return tried, waits, step.error.one_line()
        waits.append(step.delay)
        base = step.base


CASES = [
    # (name, script, hosts tried, waits, outcome)
    ("dead first host, 503 twice then 200", {"A": ["refused"], "B": [503, 503, 200]},
     ["A", "B", "B", "B"], [0.0, 0.5, 1.0], "ok"),
    ("5xx hands over; a refusing host is dropped, a 5xx host comes back", {"A": [503, 200], "B": ["refused"]},
     ["A", "B", "A"], [0.5, 0.0], "ok"),
    ("both 5xx: round robin until the retries run out", {"A": [503], "B": [502]},
     ["A", "B", "A", "B"], [0.5, 1.0, 2.0],
     f"HTTP 502: said 502 (B{PATH}, 2 tries); A{PATH}: HTTP 503 said 503"),
    ("404: a gateway without the path", {"A": [404], "B": [200]}, ["A", "B"], [0.0], "ok"),
    ("404 everywhere names each URL", {"A": [404], "B": [404]}, ["A", "B"], [0.0],
     f"HTTP 404: said 404 (B{PATH}); A{PATH}: HTTP 404 said 404"),
    ("every host refusing", {"A": ["refused"], "B": ["refused"]}, ["A", "B"], [0.0],
     f"cannot connect to B (connection refused); A{PATH}: connection refused"),
    ("a dead host never hides what another answered", {"A": [(429, 3600)], "B": ["refused"]}, ["A", "B"], [0.0],
     f"HTTP 429: said 429 (A{PATH}) — the server asks to wait 60 minutes (until {until(AT, 3600)}); "
     f"try again then; B{PATH}: connection refused"),
    ("429 retries the same host after Retry-After", {"A": [(429, 2), 200], "B": [200]}, ["A", "A"], [2.0], "ok"),
    ("a connection closed without an answer retries the same host", {"A": ["closed", 200]}, ["A", "A"], [0.5], "ok"),
    ("no answer in time is never repeated", {"A": ["timeout"], "B": [200]}, ["A"], [],
     f"A sent no answer within 180 s {errors.StreamTimeout.hint}"),
    ("a client error is never repeated", {"A": ["refused"], "B": [400]}, ["A", "B"], [0.0],
     f"HTTP 400: said 400 (B{PATH}); A{PATH}: connection refused"),
    ("a long Retry-After drops the host", {"A": [(503, 7200)], "B": [200]}, ["A", "B"], [0.0], "ok"),
    ("with no retries a 5xx gives up, a refusal still falls back", {"A": ["refused"], "B": [503]}, ["A", "B"], [0.0],
     f"HTTP 503: said 503 (B{PATH}); A{PATH}: connection refused"),
]


@pytest.mark.parametrize(("name", "script", "tried", "waits", "outcome"), CASES, ids=[c[0] for c in CASES])
def test_plan(name: str, script: dict[str, list[Any]], tried: list[str], waits: list[float], outcome: str) -> None:
    got = run({k: list(v) for k, v in script.items()}, max_retries=0 if "no retries" in name else 3)
    assert got == (tried, waits, outcome)


def test_the_plan_starts_at_the_preferred_host() -> None:
    assert run({"A": [200], "B": [200]}, start=1)[0] == ["B"]
    assert run({"A": [200], "B": ["refused"]}, start=1)[0] == ["B", "A"]


def test_a_long_wait_everywhere_says_how_long_and_until_when(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        got = run({"A": [(429, 3600)], "B": [(429, 7200)]})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == (
        ["A", "B"],
        [0.0],
        f"HTTP 429: said 429 (B{PATH}) — the server asks to wait 2 hours (until 17:05 CEST); try again then; "
        f"A{PATH}: HTTP 429 said 429, asks to wait 60 minutes (until 16:05 CEST)",
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(31, "31 seconds"), (89.2, "90 seconds"), (90, "2 minutes"), (3600, "60 minutes"),
                          (5400, "1.5 hours"), (86400, "24 hours")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_until_names_the_day_when_it_is_not_today() -> None:
    assert until(AT, 3600).endswith(":05 " + (AT + timedelta(hours=1)).astimezone().strftime("%Z"))
    assert until(AT, 2 * 86400).startswith((AT + timedelta(days=2)).astimezone().strftime("%Y-%m-%d "))


OUTCOMES = st.one_of(
    st.sampled_from(["refused", "closed", 200, 404, 429, 500, 502, 503, 504, 400, 401]),
    st.tuples(st.sampled_from([429, 503]), st.integers(0, 7200)),
)


@settings(max_examples=examples(300), deadline=None)
@given(
    bases=st.integers(1, 4),
    scripts=st.lists(st.lists(OUTCOMES, min_size=1, max_size=8), min_size=4, max_size=4),
    start=st.integers(0, 3),
    max_retries=st.integers(0, 4),
)
def test_any_run_ends_soon_never_revisits_a_dropped_host_and_names_every_url(
    bases: int, scripts: list[list[Any]], start: int, max_retries: int
) -> None:
    names = [f"http://h{i}" for i in range(bases)]
    script = {n: list(s) for n, s in zip(names, scripts[:bases], strict=True)}
    tried, waits, outcome = run(script, start=start, max_retries=max_retries)
    assert tried[0] == names[start % bases]
    assert len(tried) <= max_retries + bases  # each wait is a counted retry, each host dropped once
    assert sum(w > 0 for w in waits) <= max_retries
    assert all(0 <= w <= RETRY_AFTER_CAP_S for w in waits)  # never blocked beyond the cap
    if outcome != "ok":
        assert len(outcome.splitlines()) == 1
        assert all(n in outcome for n in set(tried))  # which URL answered what


@settings(max_examples=examples(200), deadline=None)
@given(
    when=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
    offset=st.integers(-86400, 86400),
    with_date=st.booleans(),
)
def test_retry_after_dates_are_read_relative_to_the_date_header_or_now(
    when: datetime, offset: int, with_date: bool
) -> None:
    when = when.replace(microsecond=0)
    reference = when - timedelta(seconds=offset)
    date = format_datetime(reference, usegmt=True) if with_date else None
    now = reference if not with_date else reference + timedelta(days=3)  # the Date header wins
    got = errors.parse_retry_after(format_datetime(when, usegmt=True), date, now)
    assert got == max(0.0, float(offset))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 5 ", 5.0), ("-3", 0.0), ("", None), (None, None), ("soon", None),
     ("Sat, 02 May 2026 13:05:30 GMT", 30.0), ("Sat, 02 May 2026 13:05:30 -0000", 30.0),
     ("Sat, 02 May 2026 12:00:00 GMT", 0.0)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert errors.parse_retry_after(value, now=AT) == expected
