"""Tests of ``evo_magic.sessions.registry``."""

from __future__ import annotations

import pytest

import evo_magic
from evo_magic import errors
from evo_magic.runtime import root

from .helpers import FakeApi


def test_listeners_see_turns_and_a_broken_listener_does_not_break_asking(api: FakeApi) -> None:
    seen: list[str] = []
    root().listeners.append(lambda event: seen.append(type(event).__name__))
    root().listeners.append(lambda event: 1 / 0)
    evo_magic.session().ask("q")
    assert seen == ["SessionCreated", "RequestSettled", "TurnAdded", "AnswerEnded"]


def test_find_looks_a_session_up_without_creating_it() -> None:
    seen = []
    root().listeners.append(lambda event: seen.append((type(event).__name__, event.session.name)))
    with pytest.raises(errors.OptionError, match=r"no session 'ghost'; sessions: default$"):
        root().registry.find("ghost")
    assert root().registry.find() is root().registry.get("default")  # the default session always exists
    scratch = evo_magic.session("scratch")
    assert root().registry.find("scratch") is scratch
    with pytest.raises(errors.OptionError, match="sessions: default, scratch"):
        root().registry.find("ghost")
    assert "ghost" not in root().registry.sessions and ("SessionCreated", "ghost") not in seen
