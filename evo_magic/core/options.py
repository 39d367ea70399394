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
from collections.abc import Mapping, Sequence
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
        """Return self when valid; raise OptionError naming the first problem."""
        for name in self.extra_models:
            check_model_name(name)
        check_model(self.model, self.extra_models)
        if self.protocol not in PROTOCOLS:
            raise OptionError(
                f"--protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}"
            )
        if self.protocol == "anthropic":
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            for name, flag in OPENAI_ONLY.items():
                value = getattr(self, name)
                if value != defaults[name] and value not in (None, {}):
                    raise OptionError(
                        f"the Anthropic protocol has no {name} ({flag}): drop it or use --protocol openai"
                    )
        _range("temperature", self.temperature, 0, 2)
        _range("top_p", self.top_p, 0, 1)
        _range("frequency_penalty", self.frequency_penalty, -2, 2)
        _range("presence_penalty", self.presence_penalty, -2, 2)
        if self.max_tokens is not None and not 1 <= self.max_tokens <= MAX_OUTPUT_TOKENS:
            raise OptionError(
                f"max_tokens must be between 1 and {MAX_OUTPUT_TOKENS:,}, not {self.max_tokens}"
            )
        if len(self.stop) > MAX_STOP:
            raise OptionError(
                f"at most {MAX_STOP} stop sequences are allowed, got {len(self.stop)}"
            )
        if any(not s for s in self.stop):
            raise OptionError("stop sequences must not be empty")
        if not 1 <= self.n <= 8:
            raise OptionError(f"n must be between 1 and 8, not {self.n}")
        if self.top_logprobs is not None:
            if not 0 <= self.top_logprobs <= 20:
                raise OptionError(f"top_logprobs must be between 0 and 20, not {self.top_logprobs}")
            if not self.logprobs:
                raise OptionError("top_logprobs needs logprobs to be on (--logprobs)")
        for token, bias in (self.logit_bias or {}).items():
            if not _TOKEN_ID.fullmatch(str(token)):  # str.isdigit() takes '²' and '１２３' too
                raise OptionError(f"logit_bias keys are token ids (integers), not {token!r}")
            _range(f"logit_bias[{token}]", bias, -100, 100)
        if len(self.tools) > MAX_TOOLS:
            raise OptionError(f"at most {MAX_TOOLS} tools are allowed, got {len(self.tools)}")
        if self.reasoning_effort is not None:
            if self.reasoning_effort not in EFFORTS:
                raise OptionError(
                    f"reasoning effort must be one of {', '.join(EFFORTS)}, not {self.reasoning_effort!r}"
                )
            if LEGACY_THINKING.get(self.model) is False:
                raise OptionError(f"{self.model} never thinks, so it takes no reasoning effort; drop --effort")
            if not self.thinking_on:
                raise OptionError("reasoning effort needs thinking on (drop --no-think)")
        if self.model == "deepseek-reasoner":
            for name in REASONER_REJECTS:
                value = getattr(self, name, None) if name != "response_format" else self.json_mode
                if value not in (None, (), False):
                    raise OptionError(
                        f"deepseek-reasoner does not accept {name}; use deepseek-v4-flash"
                    )
            if self.thinking is False:
                raise OptionError(
                    "deepseek-reasoner always thinks; use deepseek-chat for --no-think"
                )
        if self.model == "deepseek-chat" and self.thinking is True:
            raise OptionError(
                "deepseek-chat never thinks; use deepseek-reasoner or deepseek-v4-flash for --think"
            )
        if isinstance(self.tool_choice, Mapping) and self.tools:
            chosen = (self.tool_choice.get("function") or {}).get("name")
            offered = [str((t.get("function") or {}).get("name")) for t in self.tools]
            if chosen not in offered:
                raise OptionError(f"--tool-choice {chosen!r} is not a tool offered here ({', '.join(offered)})")
        if self.thinking_on and self.tool_choice is not None:
            forced = (
                self.tool_choice == "required"
                or isinstance(self.tool_choice, Mapping)
                or self.tool_choice == "any"
            )
            if forced:
                raise OptionError(
                    "a forced tool_choice is not allowed in thinking mode; add --no-think"
                )
        return self


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
