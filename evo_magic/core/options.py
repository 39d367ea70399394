"""Request options and their validation (pure).

Every knob of the vendor docs lives on :class:`RequestOptions`; :meth:`RequestOptions.validate`
checks documented ranges, counts, per-model rules and thinking-mode rules *before* any
request, raising :class:`~evo_magic.errors.OptionError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import OptionError

MODELS: tuple[str, ...] = (
    "deepseek-v4-flash",
    "deepseek-v4-pro",
    "deepseek-chat",
    "deepseek-reasoner",
)
DEFAULT_MODEL = "deepseek-v4-flash"
LEGACY_THINKING = {"deepseek-chat": False, "deepseek-reasoner": True}
REASONER_REJECTS = ("temperature", "top_p", "tools", "tool_choice", "response_format")
# Chat Completions options the Anthropic Messages endpoint has no field for (protocol.md §7.1),
# with the %%deepseek flag that sets each
OPENAI_ONLY = {
    "frequency_penalty": "--frequency-penalty",
    "presence_penalty": "--presence-penalty",
    "json_mode": "--json (or -f json)",
    "logprobs": "--logprobs",
    "top_logprobs": "--top-logprobs",
    "logit_bias": "--logit-bias",
    "n": "-n",
    "seed": "--seed",
    "user": "--user",
}
EFFORTS = ("low", "medium", "high", "max")
PROTOCOLS = ("openai", "anthropic")
MAX_OUTPUT_TOKENS = 384_000
MAX_STOP = 16
MAX_TOOLS = 128
_TOKEN_ID = re.compile(r"[0-9]+")  # ASCII digits only


@dataclass(frozen=True)
class RequestOptions:
    """What one request asks for, beyond the messages. ``None`` means "not set"."""

    model: str = DEFAULT_MODEL
    protocol: str = "openai"
    thinking: bool | None = None
    reasoning_effort: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()
    json_mode: bool = False
    logprobs: bool = False
    top_logprobs: int | None = None
    logit_bias: Mapping[str, float] | None = None
    n: int = 1
    seed: int | None = None
    user: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str | Mapping[str, Any] | None = None
    stream: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)
    # names beyond MODELS that -m may use (%config DeepSeekMagics.extra_models); never sent
    extra_models: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> RequestOptions:
        return dataclasses.replace(self, **{k: v for k, v in changes.items()})

    @property
    def thinking_on(self) -> bool:
        """Whether the request runs in thinking mode (the API's default is on)."""
        if self.thinking is not None:
            return self.thinking
        return LEGACY_THINKING.get(self.model, True)

    def validate(self) -> RequestOptions:
        """Return self when valid; raise OptionError naming the first problem. The rules run
        in the order of :data:`RULES`: names, protocol, ranges and counts, then the rules
        that depend on the model, thinking and tools."""
        for rule in RULES:
            rule(self)
        return self


def _check_names(opts: RequestOptions) -> None:
    for name in opts.extra_models:
        check_model_name(name)
    check_model(opts.model, opts.extra_models)
    if opts.protocol not in PROTOCOLS:
        raise OptionError(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {opts.protocol!r}")


def _check_protocol_fields(opts: RequestOptions) -> None:
    """The Anthropic protocol has no field for the Chat Completions-only options."""
    if opts.protocol != "anthropic":
        return
    for name, flag in OPENAI_ONLY.items():
        value = getattr(opts, name)
        if value != _DEFAULTS[name] and value not in (None, {}):
            raise OptionError(f"the Anthropic protocol has no {name} ({flag}): drop it or use --protocol openai")


#: (field, lowest, highest) of the numeric options with a documented range
RANGES: tuple[tuple[str, float, float], ...] = (
    ("temperature", 0, 2),
    ("top_p", 0, 1),
    ("frequency_penalty", -2, 2),
    ("presence_penalty", -2, 2),
)


def _check_ranges(opts: RequestOptions) -> None:
    for name, low, high in RANGES:
        _range(name, getattr(opts, name), low, high)
    if opts.max_tokens is not None and not 1 <= opts.max_tokens <= MAX_OUTPUT_TOKENS:
        raise OptionError(f"max_tokens must be between 1 and {MAX_OUTPUT_TOKENS:,}, not {opts.max_tokens}")


def _check_counts(opts: RequestOptions) -> None:
    if len(opts.stop) > MAX_STOP:
        raise OptionError(f"at most {MAX_STOP} stop sequences are allowed, got {len(opts.stop)}")
    if any(not s for s in opts.stop):
        raise OptionError("stop sequences must not be empty")
    if not 1 <= opts.n <= 8:
        raise OptionError(f"n must be between 1 and 8, not {opts.n}")
    if opts.top_logprobs is not None:
        if not 0 <= opts.top_logprobs <= 20:
            raise OptionError(f"top_logprobs must be between 0 and 20, not {opts.top_logprobs}")
        if not opts.logprobs:
            raise OptionError("top_logprobs needs logprobs to be on (--logprobs)")
    for token, bias in (opts.logit_bias or {}).items():
        if not _TOKEN_ID.fullmatch(str(token)):  # str.isdigit() takes '²' and '１２３' too
            raise OptionError(f"logit_bias keys are token ids (integers), not {token!r}")
        _range(f"logit_bias[{token}]", bias, -100, 100)
    if len(opts.tools) > MAX_TOOLS:
        raise OptionError(f"at most {MAX_TOOLS} tools are allowed, got {len(opts.tools)}")


def _check_effort(opts: RequestOptions) -> None:
    if opts.reasoning_effort is None:
        return
    if opts.reasoning_effort not in EFFORTS:
        raise OptionError(f"reasoning effort must be one of {', '.join(EFFORTS)}, not {opts.reasoning_effort!r}")
    if LEGACY_THINKING.get(opts.model) is False:
        raise OptionError(f"{opts.model} never thinks, so it takes no reasoning effort; drop --effort")
    if not opts.thinking_on:
        raise OptionError("reasoning effort needs thinking on (drop --no-think)")


def _check_legacy_models(opts: RequestOptions) -> None:
    """deepseek-reasoner always thinks and rejects sampling and tools; deepseek-chat never thinks."""
    if opts.model == "deepseek-reasoner":
        for name in REASONER_REJECTS:
            value = getattr(opts, name, None) if name != "response_format" else opts.json_mode
            if value not in (None, (), False):
                raise OptionError(f"deepseek-reasoner does not accept {name}; use deepseek-v4-flash")
        if opts.thinking is False:
            raise OptionError("deepseek-reasoner always thinks; use deepseek-chat for --no-think")
    if opts.model == "deepseek-chat" and opts.thinking is True:
        raise OptionError("deepseek-chat never thinks; use deepseek-reasoner or deepseek-v4-flash for --think")


def _check_tool_choice(opts: RequestOptions) -> None:
    if isinstance(opts.tool_choice, Mapping) and opts.tools:
        chosen = (opts.tool_choice.get("function") or {}).get("name")
        offered = [str((t.get("function") or {}).get("name")) for t in opts.tools]
        if chosen not in offered:
            raise OptionError(f"--tool-choice {chosen!r} is not a tool offered here ({', '.join(offered)})")
    forced = opts.tool_choice in ("required", "any") or isinstance(opts.tool_choice, Mapping)
    if opts.thinking_on and forced:
        raise OptionError("a forced tool_choice is not allowed in thinking mode; add --no-think")


#: The validation rules, in the order they run (the first problem found is the one reported).
RULES: tuple[Callable[[RequestOptions], None], ...] = (
    _check_names,
    _check_protocol_fields,
    _check_ranges,
    _check_counts,
    _check_effort,
    _check_legacy_models,
    _check_tool_choice,
)
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(RequestOptions)}


def check_model(name: str, extra_models: Sequence[str] = ()) -> None:
    """``name`` is one of :data:`MODELS` or of ``extra_models`` (what the gateway added since);
    anything else is refused before a request, with the closest known name."""
    check_model_name(name)
    if name in MODELS or name in extra_models:
        return
    known = [*MODELS, *extra_models]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise OptionError(
        f"unknown model {name[:60]!r}: {hint}known models are {', '.join(known)}; to use a model the "
        f"gateway added later, allow it with %config DeepSeekMagics.extra_models = [{name[:60]!r}]"
    )


def check_model_name(name: object) -> None:
    """A model name is non-empty text without whitespace or control/format characters."""
    if not isinstance(name, str) or not name:
        raise OptionError(f"a model name must be non-empty text, not {name!r}")
    for ch in name:
        if ch.isspace() or unicodedata.category(ch).startswith("C"):
            what = "whitespace" if ch.isspace() else f"a control character (U+{ord(ch):04X})"
            raise OptionError(f"a model name has no {what}: {name[:60]!r}")


def _range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"{name} must be a number, not {value!r}")
    if not low <= value <= high:
        raise OptionError(f"{name} must be between {low:g} and {high:g}, not {value:g}")
