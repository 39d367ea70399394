"""Every ``%config DeepSeekMagics.NAME`` setting, declared once (IPython surface).

:data:`SETTINGS` is the one list: the magic's configurable traits are made from it
(:func:`traits`), one validator checks a proposed value with each setting's rule
(:func:`check`), one observer hands the value to where it lives (:func:`apply`: the kernel's
request, transport or tool-loop defaults, the accounting's budget or price layer, the magic's
own preferences), and ``%deepseek config`` shows them in its order (:func:`shown`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from traitlets import Bool, Dict, Enum, Float, Int, List, TraitType, Unicode

from ..core.context import MIN_VALUE_TOKENS
from ..core.options import DEFAULT_MODEL, PROTOCOLS, RequestOptions
from ..display.live import MODES, ViewMode
from ..errors import OptionError
from ..ledger.pricing import format_money, parse_layer
from ..sessions.cache import CACHE_MODES, CACHE_VAR
from ..sessions.host import DEFAULT_MAX_TOOL_ROUNDS
from ..sessions.routes import FIM_PATH, PREFIX_PATH, check_path
from ..sessions.tools import DEFAULT_MAX_TOOL_CALLS

if TYPE_CHECKING:
    from ..runtime import Runtime

Scope = Literal["request", "transport", "loop", "routes", "budget", "prices", "cache", "notebook"]
#: A setting's rule: ``rule(name, value, current)`` raises OptionError when ``value`` is no
#: valid ``name`` (``current``: the values in force, for a rule that looks at another setting).
Rule = Callable[[str, Any, Mapping[str, Any]], None]


@dataclass(frozen=True)
class Prefs:
    """The magic's own preferences (scope ``notebook``)."""

    live: ViewMode = "auto"
    value_tokens: int = 1000
    offline_rate: float = 60.0


@dataclass(frozen=True)
class Setting:
    """One ``%config`` setting: its trait, where its value goes, its rule and its display."""

    name: str
    scope: Scope
    make: Callable[[str], TraitType[Any, Any]]  # the trait, given its help text
    help: str
    rule: Rule | None = None  # raises OptionError naming the setting
    show: Callable[[Any], str] = str


def _request_rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
    """A request option: valid as RequestOptions says (model names with the extra models)."""
    fields = {"model": current["model"], "extra_models": tuple(current["extra_models"]), name: value}
    if name == "extra_models":
        fields["extra_models"] = tuple(value)
    RequestOptions(**fields).validate()


def _positive(unit: str) -> Rule:
    def rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise OptionError(f"{name} is in {unit} and must be a finite number above 0, not {value!r}")

    return rule


def _at_least(least: int) -> Rule:
    def rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
        if value < least:
            raise OptionError(f"{name} must be at least {least}, not {value!r}")

    return rule


def _budget_rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise OptionError(f"the budget must be a positive amount of USD (None: no limit), not {value!r}")


def _prices_rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
    if value:
        parse_layer(value, 2, "%config DeepSeekMagics.prices")


def _path_rule(name: str, value: Any, current: Mapping[str, Any]) -> None:
    check_path(name, value)


def _unset(default_text: str) -> Callable[[Any], str]:
    return lambda value: default_text if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _shown_prices(value: Mapping[str, Any]) -> str:
    if not value:
        return "none"
    entries = value.get("prices")
    return f"{len(entries)} entries" if isinstance(entries, list) else ", ".join(sorted(value))


def _seconds(value: Any) -> str:
    return f"{value:g} s"


def shown_cache(value: Any) -> str:
    """The cache mode in force: the setting, else ``EVO_MAGIC_CACHE`` (read now), else off;
    ``replay-only`` from the environment holds over the setting."""
    env = os.environ.get(CACHE_VAR, "").strip()
    if env and (value is None or (env.lower() == "replay-only" and value != "replay-only")):
        return f"{env} (from {CACHE_VAR}{'' if value is None else f', over {value}'})"
    return "off" if value is None else str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("model", "request", lambda h: Unicode(DEFAULT_MODEL, help=h), "Default model for %%deepseek cells.",
            _request_rule),
    Setting("extra_models", "request", lambda h: List(Unicode(), help=h),
            "Model names beyond the known ones that -m may use.", _request_rule,
            lambda v: ", ".join(v) or "none"),
    Setting("protocol", "request", lambda h: Enum(list(PROTOCOLS), "openai", help=h), "Default wire protocol."),
    Setting("thinking", "request", lambda h: Bool(None, allow_none=True, help=h),
            "Thinking on (True) or off (False) by default; None: each model's own default "
            "(on for V4 and deepseek-reasoner, off for deepseek-chat).", None,
            lambda v: "each model's default" if v is None else "on" if v else "off"),
    Setting("max_tokens", "request", lambda h: Int(None, allow_none=True, help=h), "Default max_tokens.",
            _request_rule, _unset("API default")),
    Setting("temperature", "request", lambda h: Float(None, allow_none=True, help=h), "Default temperature.",
            _request_rule, _unset("API default")),
    Setting("read_timeout", "transport", lambda h: Float(180.0, help=h),
            "Seconds without data before a stream times out.", _positive("seconds"), _seconds),
    Setting("connect_timeout", "transport", lambda h: Float(10.0, help=h), "Seconds to establish a connection.",
            _positive("seconds"), _seconds),
    Setting("max_retries", "transport", lambda h: Int(3, help=h),
            "Retries after a wait, before the first body byte (429, 5xx); a refusing or 404 base URL is skipped.",
            _at_least(0)),
    Setting("max_tool_rounds", "loop", lambda h: Int(DEFAULT_MAX_TOOL_ROUNDS, help=h),
            "Rounds of tool calls one question may take.", _at_least(1)),
    Setting("max_tool_calls", "loop", lambda h: Int(DEFAULT_MAX_TOOL_CALLS, help=h),
            "Tool calls run per round (the rest: not run).", _at_least(1), lambda v: f"{v} per round"),
    Setting("prefix_path", "routes", lambda h: Unicode(PREFIX_PATH, help=h),
            "Path of prefix continuation (--prefix, %deepseek continue) on the OpenAI protocol, relative to the "
            "base URLs.", _path_rule),
    Setting("fim_path", "routes", lambda h: Unicode(FIM_PATH, help=h),
            "Path of FIM completion (--fim, evo_magic.fill), relative to the base URLs.", _path_rule),
    Setting("budget", "budget", lambda h: Float(None, allow_none=True, help=h),
            "Spending limit of this notebook in USD (None: no limit).", _budget_rule,
            lambda v: "none" if v is None else format_money(Decimal(str(v)))),
    Setting("prices", "prices", lambda h: Dict(help=h),
            "Prices above the shipped table and EVO_MAGIC_HOME/prices.json (the prices.json format).",
            _prices_rule, lambda v: _shown_prices(v)),
    Setting("cache", "cache", lambda h: Enum(list(CACHE_MODES), None, allow_none=True, help=h),
            "Answer cache: off, on (a re-run exact request is answered from the answers kept, for $0), "
            "refresh (ask again, keep the new answer), replay-only (a miss is an error); None: "
            "EVO_MAGIC_CACHE, else off.", None, shown_cache),
    Setting("live", "notebook", lambda h: Enum(list(MODES), "auto", help=h), "Live view of answers."),
    Setting("value_tokens", "notebook", lambda h: Int(1000, help=h),
            "Token budget per interpolated {value} in a prompt.", _at_least(MIN_VALUE_TOKENS)),
    Setting("offline_rate", "notebook", lambda h: Float(60.0, help=h),
            "Tokens per second of %deepseek offline answers.", _positive("tokens per second"),
            lambda v: f"{v:g} tokens/s"),
)  # fmt: skip
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def traits() -> dict[str, TraitType[Any, Any]]:
    """The magic's configurable traits, one per setting."""
    return {s.name: s.make(s.help).tag(config=True) for s in SETTINGS}


def check(name: str, value: Any, current: Mapping[str, Any]) -> None:
    """Raise :class:`~evo_magic.errors.OptionError` when ``value`` is no valid ``name``
    (``current``: the values in force, for rules that look at another setting). The message
    names the setting."""
    rule = BY_NAME[name].rule
    if rule is not None:
        rule(name, value, current)


def apply(name: str, value: Any, runtime: Runtime, prefs: Prefs) -> Prefs:
    """Hand ``value`` to where ``name`` lives; the magic's new preferences."""
    scope = BY_NAME[name].scope
    if scope in ("request", "transport", "loop", "routes"):
        runtime.set_default(name, tuple(value) if name == "extra_models" else value)
    elif scope == "budget":
        runtime.accounting.budget = None if value is None else Decimal(str(value))
    elif scope == "prices":
        runtime.accounting.prices = dict(value)
    elif scope == "cache":
        runtime.accounting.cache = value
    else:
        return replace(prefs, **{name: value})
    return prefs


def shown(current: Mapping[str, Any]) -> list[list[str]]:
    """``[name, value as shown]`` for every setting, in order."""
    return [[s.name, s.show(current[s.name])] for s in SETTINGS]


__all__ = ["BY_NAME", "SETTINGS", "Prefs", "Setting", "apply", "check", "shown", "traits"]
