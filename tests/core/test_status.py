"""The one table of status words (core/status.py) and the views that read it."""

from __future__ import annotations

from typing import get_args

import pytest

from evo_magic.core.status import STATUS_WORDS, Origin, Outcome, ReplyStatus, Status, status_label
from evo_magic.display.render import Footer, status_text


def names(alias: object) -> set[str]:
    """The strings of a Literal alias, unions of Literals included."""
    out: set[str] = set()
    for arg in get_args(alias):
        out |= names(arg) if get_args(arg) else {arg}
    return out


def test_every_outcome_has_its_words_on_one_line() -> None:
    assert set(STATUS_WORDS) == names(Outcome) == names(Status) | {"started", "cached"}
    for words in STATUS_WORDS.values():
        assert words.label.strip() and "\n" not in words.label
        assert words.notice is None or (words.notice.endswith(".") and "\n" not in words.notice)


def test_reply_status_is_a_status_or_streaming() -> None:
    assert names(ReplyStatus) == names(Status) | {"streaming"}


def test_origins() -> None:
    assert names(Origin) == {"cell", "panel", "api", "map"}


def test_a_name_outside_the_table_reads_as_itself() -> None:
    assert status_label("end_turn_maybe") == "end turn maybe"
    assert status_label("length") == "cut at max_tokens — %deepseek continue, or raise --max-tokens"


@pytest.mark.parametrize("status", sorted(names(Status) - {"ok"}))
def test_the_banner_of_an_answer_without_a_notice_is_the_table_label(status: str) -> None:
    footer = Footer("m", None, 1.0, None, None, status=status)
    assert status_text(footer) == STATUS_WORDS[status].label


def test_a_request_never_settled_reads_as_the_table_says_in_the_usage_view() -> None:
    from datetime import datetime, timezone

    from evo_magic.ledger.report import UsageRecord, UsageView

    record = UsageRecord(
        datetime(2026, 11, 1, tzinfo=timezone.utc), "nb", "default", "cell", 3, "deepseek-v4-flash", None,
        "openai", None, None, None, None, None, None, None, None, "started", None,
    )
    label = UsageView([record])._point(record).label
    assert label.endswith(" · " + STATUS_WORDS["started"].label) and "cell 3" in label
