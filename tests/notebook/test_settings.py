"""The one list of %config settings (notebook/settings.py): traits, validation, where each
value goes, and %deepseek config, all from the same list."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets import TraitError

from evo_magic.notebook import settings
from evo_magic.runtime import root


@pytest.fixture
def magics() -> Iterator[Any]:
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("evo_magic")
    yield next(c for c in ip.configurables if type(c).__name__ == "DeepSeekMagics")
    ip.extension_manager.unload_extension("evo_magic")


def test_every_setting_is_a_trait_shown_by_config_in_its_order(magics: Any) -> None:
    table = magics.shell.run_line_magic("deepseek", "config")
    assert [row[0] for row in table.rows[: len(settings.SETTINGS)]] == [s.name for s in settings.SETTINGS]
    for s in settings.SETTINGS:
        assert magics.trait_metadata(s.name, "config") is True and magics.class_traits()[s.name].help == s.help


@pytest.mark.parametrize(
    ("name", "value", "where"),
    [
        ("model", "deepseek-v4-pro", lambda: root().defaults.request.model),
        ("temperature", 0.3, lambda: root().defaults.request.temperature),
        ("read_timeout", 12.0, lambda: root().defaults.transport.read_timeout),
        ("max_retries", 0, lambda: root().defaults.transport.max_retries),
        ("max_tool_rounds", 2, lambda: root().defaults.loop.max_tool_rounds),
        ("max_tool_calls", 5, lambda: root().defaults.loop.max_tool_calls),
        ("budget", 2.5, lambda: root().accounting.budget),
        ("value_tokens", 50, None),
        ("prefix_path", "/v1/chat/completions", lambda: root().defaults.routes.prefix_path),
        ("fim_path", "/v1/completions", lambda: root().defaults.routes.fim_path),
    ],
)
def test_each_value_goes_where_it_lives(magics: Any, name: str, value: Any, where: Any) -> None:
    setattr(magics, name, value)
    if name == "budget":
        assert where() == Decimal("2.5")
    elif where is not None:
        assert where() == value
    else:
        assert getattr(magics.prefs, name) == value
    assert root().registry.get().options().model == root().defaults.request.model


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("model", "deepseek-v4-flsh", "did you mean 'deepseek-v4-flash'"),
        ("max_tokens", 0, "max_tokens must be between 1"),
        ("temperature", 5.0, "temperature must be between 0 and 2"),
        ("read_timeout", 0.0, "read_timeout is in seconds and must be a finite number above 0"),
        ("offline_rate", float("inf"), "offline_rate is in tokens per second"),
        ("max_retries", -1, "max_retries must be at least 0"),
        ("max_tool_rounds", 0, "max_tool_rounds must be at least 1"),
        ("max_tool_calls", 0, "max_tool_calls must be at least 1"),
        ("value_tokens", 3, "value_tokens must be at least 20"),
        ("budget", float("nan"), "the budget must be a positive amount"),
        ("prices", {"deepseek-v4-pro": {"cache_hit": "free"}}, "prices"),
        ("prefix_path", "beta/chat/completions", "prefix_path is a path relative to the base URLs"),
        ("fim_path", "https://api.deepseek.com/beta/completions", "fim_path is a path relative to the base URLs"),
        ("fim_path", "/beta/completions?x=1", "fim_path is a path without spaces, query or fragment"),
    ],
)
def test_each_rule_refuses_in_one_line_and_the_value_stays(magics: Any, name: str, value: Any, message: str) -> None:
    before = getattr(magics, name)
    with pytest.raises(TraitError, match=message) as caught:
        setattr(magics, name, value)
    assert "\n" not in str(caught.value) and getattr(magics, name) == before


def test_the_price_layer_prices_the_next_answer(magics: Any, monkeypatch: pytest.MonkeyPatch, emulator: Any) -> None:
    """%config DeepSeekMagics.prices (documented in the README) is the highest price layer."""
    import evo_magic

    from ..conftest import use_emulator

    use_emulator(monkeypatch, emulator.url, "/work/prices.ipynb")
    free = {"deepseek-v4-flash": {"cache_hit": 0, "cache_miss": 0, "output": 0}}
    magics.shell.run_line_magic("config", f"DeepSeekMagics.prices = {free!r}")
    assert evo_magic.session().ask("What is 2+2?").cost == Decimal(0)
    dear = {"deepseek-v4-flash": {"cache_hit": 1000, "cache_miss": 1000, "output": 1000}}
    magics.shell.run_line_magic("config", f"DeepSeekMagics.prices = {dear!r}")
    reply = evo_magic.session().ask("And 3+3?")
    assert reply.usage is not None and reply.cost == Decimal(1000) * reply.usage.total_tokens / 10**6
    assert "deepseek-v4-flash" in repr(magics.shell.run_line_magic("deepseek", "config"))


def test_the_routes_default_to_deepseeks_beta_paths_and_show_in_config(magics: Any) -> None:
    assert (magics.prefix_path, magics.fim_path) == ("/beta/chat/completions", "/beta/completions")
    rows = dict(magics.shell.run_line_magic("deepseek", "config").rows)
    assert rows["prefix_path"] == "/beta/chat/completions" and rows["fim_path"] == "/beta/completions"
