"""Model names: a name the client does not know is refused before any request, with a "did
you mean"; %config DeepSeekMagics.extra_models allows one the gateway adds later; a refused
%config setting is one clean line."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evo_magic.core.options import RequestOptions
from evo_magic.errors import OptionError

from ..profiles import examples


@pytest.mark.parametrize("name", ["deepseek-v4-flash ", " deepseek-v4-flash", "deepseek v4", "deepseek-\x1b[31m", "deep\u200bseek", ""])
def test_names_with_whitespace_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(OptionError) as caught:
        RequestOptions(model=name, extra_models=(name,)).validate()
    assert len(caught.value.one_line().splitlines()) == 1 and "\x1b" not in caught.value.one_line()


@settings(max_examples=examples(200), deadline=None)
@given(token=st.text(max_size=8), bias=st.integers(-100, 100))
@example(token="²", bias=1)
@example(token="١٢٣", bias=1)
def test_property_a_logit_bias_key_is_accepted_only_as_ascii_digits(token: str, bias: int) -> None:

    from evo_magic.core.options import RequestOptions
    from evo_magic.errors import OptionError

    opts = RequestOptions(thinking=False, logit_bias={token: bias})
    if re.fullmatch(r"[0-9]+", token):
        assert opts.validate() is opts
    else:
        with pytest.raises(OptionError, match="token ids"):
            opts.validate()


WEATHER_TOOL = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}

# One row per rule of RequestOptions.validate: (options, the error's words, or None: valid). Each
# refusal has its boundary beside it, so a rule that moves by one is caught too.
VALIDATION: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    # model names: known, extra, close match, shape of the name, shape of extra names
    ({"model": "deepseek-v4-pro"}, None),
    ({"model": "deepseek-v4-flsh"}, "unknown model 'deepseek-v4-flsh': did you mean 'deepseek-v4-flash'?"),
    ({"model": "gpt-4"}, "unknown model 'gpt-4': known models are deepseek-v4-flash"),
    ({"model": "deepseek-v5", "extra_models": ("deepseek-v5",)}, None),
    ({"model": ""}, "a model name must be non-empty text"),
    ({"model": "deepseek v4"}, "a model name has no whitespace"),
    ({"model": "deepseek-v4-flash", "extra_models": ("bad\x07name",)}, "a control character (U+0007)"),
    # protocol, and what the Anthropic protocol has no field for
    ({"protocol": "anthropic"}, None),
    ({"protocol": "gemini"}, "--protocol must be one of openai, anthropic, not 'gemini'"),
    ({"protocol": "anthropic", "seed": 1}, "the Anthropic protocol has no seed (--seed)"),
    ({"protocol": "anthropic", "n": 2}, "the Anthropic protocol has no n (-n)"),
    ({"protocol": "anthropic", "json_mode": True}, "has no json_mode (--json (or -f json))"),
    ({"protocol": "anthropic", "logit_bias": {}}, None),  # empty is not set
    ({"protocol": "anthropic", "logit_bias": {"1": 2.0}}, "has no logit_bias (--logit-bias)"),
    # ranges: each bound accepted, one step past it refused
    ({"temperature": 0}, None),
    ({"temperature": 2}, None),
    ({"temperature": 2.01}, "temperature must be between 0 and 2, not 2.01"),
    ({"temperature": -0.1}, "temperature must be between 0 and 2"),
    ({"temperature": "hot"}, "temperature must be a number, not 'hot'"),
    ({"temperature": True}, "temperature must be a number, not True"),
    ({"top_p": 1}, None),
    ({"top_p": 1.5}, "top_p must be between 0 and 1, not 1.5"),
    ({"frequency_penalty": -2}, None),
    ({"frequency_penalty": -2.5}, "frequency_penalty must be between -2 and 2"),
    ({"presence_penalty": 2}, None),
    ({"presence_penalty": 3}, "presence_penalty must be between -2 and 2, not 3"),
    ({"max_tokens": 1}, None),
    ({"max_tokens": 384_000}, None),
    ({"max_tokens": 0}, "max_tokens must be between 1 and 384,000, not 0"),
    ({"max_tokens": 384_001}, "max_tokens must be between 1 and 384,000, not 384001"),
    # stop sequences, choices, logprobs, logit bias, tools
    ({"stop": tuple("abcdefghijklmnop")}, None),
    ({"stop": tuple("abcdefghijklmnopq")}, "at most 16 stop sequences are allowed, got 17"),
    ({"stop": ("END", "")}, "stop sequences must not be empty"),
    ({"n": 8}, None),
    ({"n": 9}, "n must be between 1 and 8, not 9"),
    ({"n": 0}, "n must be between 1 and 8, not 0"),
    ({"logprobs": True, "top_logprobs": 20}, None),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs must be between 0 and 20, not 21"),
    ({"top_logprobs": 3}, "top_logprobs needs logprobs to be on (--logprobs)"),
    ({"logit_bias": {"42": -100, "7": 100}}, None),
    ({"logit_bias": {"42": 101}}, "logit_bias[42] must be between -100 and 100, not 101"),
    ({"logit_bias": {"x1": 1}}, "logit_bias keys are token ids (integers), not 'x1'"),
    ({"logit_bias": {"²": 1}}, "logit_bias keys are token ids (integers), not '²'"),
    ({"tools": (WEATHER_TOOL,) * 128}, None),
    ({"tools": (WEATHER_TOOL,) * 129}, "at most 128 tools are allowed, got 129"),
    # reasoning effort
    ({"reasoning_effort": "max"}, None),
    ({"reasoning_effort": "extreme"}, "reasoning effort must be one of low, medium, high, max, not 'extreme'"),
    ({"reasoning_effort": "high", "model": "deepseek-chat"}, "deepseek-chat never thinks, so it takes no reasoning effort"),
    ({"reasoning_effort": "high", "thinking": False}, "reasoning effort needs thinking on (drop --no-think)"),
    # the legacy models' thinking rules
    ({"model": "deepseek-reasoner"}, None),
    ({"model": "deepseek-reasoner", "temperature": 0.5}, "deepseek-reasoner does not accept temperature"),
    ({"model": "deepseek-reasoner", "top_p": 0.5}, "deepseek-reasoner does not accept top_p"),
    ({"model": "deepseek-reasoner", "tools": (WEATHER_TOOL,)}, "deepseek-reasoner does not accept tools"),
    ({"model": "deepseek-reasoner", "tool_choice": "auto"}, "deepseek-reasoner does not accept tool_choice"),
    ({"model": "deepseek-reasoner", "json_mode": True}, "deepseek-reasoner does not accept response_format"),
    ({"model": "deepseek-reasoner", "thinking": False}, "deepseek-reasoner always thinks; use deepseek-chat"),
    ({"model": "deepseek-chat"}, None),
    ({"model": "deepseek-chat", "thinking": True}, "deepseek-chat never thinks; use deepseek-reasoner"),
    # tool choice: a named tool must be offered; forcing a tool needs thinking off
    ({"tools": (WEATHER_TOOL,), "tool_choice": "auto"}, None),
    ({"tools": (WEATHER_TOOL,), "tool_choice": {"type": "function", "function": {"name": "weather"}}, "thinking": False},
     None),
    ({"tools": (WEATHER_TOOL,), "tool_choice": {"type": "function", "function": {"name": "news"}}, "thinking": False},
     "--tool-choice 'news' is not a tool offered here (weather)"),
    ({"tools": (WEATHER_TOOL,), "tool_choice": "required"}, "a forced tool_choice is not allowed in thinking mode"),
    ({"tools": (WEATHER_TOOL,), "tool_choice": "required", "thinking": False}, None),
    ({"tools": (WEATHER_TOOL,), "tool_choice": "any", "model": "deepseek-v4-pro"}, "a forced tool_choice is not allowed"),
    ({"tools": (WEATHER_TOOL,), "tool_choice": {"type": "function", "function": {"name": "weather"}}},
     "a forced tool_choice is not allowed in thinking mode; add --no-think"),
]


@pytest.mark.parametrize(
    "options,error", VALIDATION, ids=[f"{','.join(o) or 'defaults'}-{'ok' if e is None else 'refused'}" for o, e in VALIDATION]
)
def test_every_validation_rule_and_its_boundary(options: dict[str, Any], error: str | None) -> None:
    request = RequestOptions(**options)
    if error is None:
        assert request.validate() is request
        return
    with pytest.raises(OptionError) as caught:
        request.validate()
    message = caught.value.one_line()
    assert error in message, message
    assert "\n" not in message
