"""The routes of the beta features are settings; a route the gateway does not serve becomes one
line that names the setting to change (the emulator's routes switched off and on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import evo_magic
from evo_magic.errors import ApiError, BadRequestError, OptionError
from evo_magic.runtime import root
from evo_magic.sessions.routes import Route, Routes, check_path, explain

from .helpers import Recording

QUICK_SORT = "Please write quick sort code"


@pytest.fixture
def routes(emulator: Any) -> Iterator[Any]:
    """The shared emulator, its route table put back afterwards."""
    before = dict(emulator.routes)
    yield emulator
    for path in set(emulator.routes) - set(before):
        emulator.close_route(path)
    for path, kind in before.items():
        emulator.open_route(path, kind)


def test_a_closed_prefix_route_names_the_setting_to_change(wire: Recording, routes: Any) -> None:
    routes.close_route("/beta/chat/completions")
    s = evo_magic.session()
    with pytest.raises(ApiError) as info:
        s.ask(QUICK_SORT, prefix="```python\n", thinking=False)
    line = info.value.one_line()
    assert "\n" not in line and line.startswith("HTTP 404: Unknown path /beta/chat/completions")
    assert line.endswith(
        "the gateway does not serve prefix continuation at /beta/chat/completions; if it does elsewhere, "
        "set %config DeepSeekMagics.prefix_path = '/v1/chat/completions'"
    )
    assert s.turns == [] and info.value.reply.status == "error"  # nothing half-done in the history
    [row] = root().accounting.ledger.rows("/work/prefix.ipynb")
    assert row.outcome == "error"


def test_the_setting_moves_the_route_and_a_400_naming_prefix_points_back(wire: Recording, routes: Any) -> None:
    root().set_default("prefix_path", "/v1/chat/completions")  # %config DeepSeekMagics.prefix_path
    s = evo_magic.session()
    with pytest.raises(BadRequestError) as info:  # the emulator's chat route refuses prefix as DeepSeek does
        s.ask(QUICK_SORT, prefix="```python\n", thinking=False)
    assert "prefix is only available when using beta api" in info.value.one_line()
    assert info.value.one_line().endswith("set %config DeepSeekMagics.prefix_path = '/beta/chat/completions'")
    routes.open_route("/v1/chat/completions", "beta_chat")  # a gateway that takes prefix on its chat route
    reply = s.ask(QUICK_SORT, prefix="```python\n", thinking=False)
    assert reply.text.startswith("```python\n") and wire.paths[-1] == "/v1/chat/completions"


def test_the_anthropic_prefill_goes_to_the_messages_route_whatever_the_setting(wire: Recording) -> None:
    root().set_default("prefix_path", "/nowhere")
    evo_magic.session(protocol="anthropic").ask(QUICK_SORT, prefix="```python\n", thinking=False)
    assert wire.paths == ["/v1/messages"]


def test_other_errors_are_left_as_they_are() -> None:
    route = Routes().prefix("openai")
    assert route is not None and Routes().prefix("anthropic") is None
    for error in (ApiError("Rate Limit Reached", status=429), BadRequestError("max_tokens is too large", status=400)):
        before = error.one_line()
        explain(error, route)
        assert error.one_line() == before
    fim = Routes().fim()
    named = BadRequestError("Unrecognized request argument supplied: suffix", status=400)
    explain(named, fim)
    assert named.one_line().endswith("set %config DeepSeekMagics.fim_path = '/v1/completions'")


def test_a_route_suggests_the_other_candidate() -> None:
    route = Route("/custom/path", "fim_path", "FIM completion", ("suffix",), ("/beta/completions", "/v1/completions"))
    assert route.suggestion() == "%config DeepSeekMagics.fim_path = '/beta/completions'"


@pytest.mark.parametrize("bad", ["beta/completions", "//host/x", "/a b", "/x?y=1", "/x#y", "http://h/x", 3, ""])
def test_a_route_setting_is_a_relative_path(bad: object) -> None:
    with pytest.raises(OptionError, match="fim_path"):
        check_path("fim_path", bad)
    check_path("fim_path", "/v1/completions")
