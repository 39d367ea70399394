"""Tests of ``evo_magic.sessions.registry``."""

from __future__ import annotations

import pytest

import evo_magic
from evo_magic import errors
from evo_magic.sessions.registry import registry

from .helpers import FakeApi


def test_listeners_see_turns_and_a_broken_listener_does_not_break_asking(api: FakeApi) -> None:
    seen = []
    registry().listeners.append(lambda kind, session, payload: seen.append(kind))
    registry().listeners.append(lambda kind, session, payload: 1 / 0)
    evo_magic.session().ask("q")
    assert seen == ["session", "start", "request", "turn"]


def test_find_looks_a_session_up_without_creating_it() -> None:
    seen = []
    registry().listeners.append(lambda kind, session, payload: seen.append((kind, session.name)))
    with pytest.raises(errors.OptionError, match=r"no session 'ghost'; sessions: default$"):
        registry().find("ghost")
    assert registry().find() is registry().get("default")  # the default session always exists
    scratch = evo_magic.session("scratch")
    assert registry().find("scratch") is scratch
    with pytest.raises(errors.OptionError, match="sessions: default, scratch"):
        registry().find("ghost")
    assert "ghost" not in registry().sessions and ("session", "ghost") not in seen
