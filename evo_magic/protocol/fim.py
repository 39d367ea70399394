"""FIM (fill in the middle) completion, as DeepSeek documents it (pure).

``POST /beta/completions`` (relative to the base URL; DeepSeek serves it under its ``/beta``
base, EvoLink documents the capability but no route) with ``model``, ``prompt`` (the code
before the hole), ``suffix`` (the code after it), ``max_tokens`` (at most 4,096), ``echo``,
``logprobs`` (an integer up to 20), ``stop``, ``stream``, ``stream_options``, ``temperature``,
``top_p`` and the penalties. FIM never thinks: the body has no ``thinking`` field, and an
option that needs thinking (or a model that always thinks, or tools) is an
:class:`~evo_magic.errors.OptionError` before any request. There is one wire shape, whatever
protocol the chat uses.

The response is ``object: "text_completion"`` with ``choices[].text`` and the chat usage
object; streamed, the same shape per chunk, then ``data: [DONE]``. :class:`StreamParser` and
:func:`parse_response` turn both into the chat codecs' events (text deltas, logprobs,
finish, usage), so the fold, the display and the ledger reuse everything. Completion-style
logprobs (``tokens`` / ``token_logprobs`` / ``top_logprobs`` maps) become chat-style entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..core.events import Event, LogprobsDelta, TextDelta
from ..core.options import LEGACY_THINKING, OPENAI_ONLY, RequestOptions
from ..errors import OptionError
from . import openai_chat

__all__ = ["MAX_TOKENS", "PATH", "StreamParser", "build_body", "check", "chunk_events", "parse_response"]

PATH = "/beta/completions"
MAX_TOKENS = 4_096  # "The max tokens of FIM completion is 4K" (DeepSeek's FIM guide)
_NOT_OFFERED = ("json_mode", "n", "logit_bias", "seed", "user")  # chat-only options (OPENAI_ONLY names)


def check(opts: RequestOptions) -> None:
    """Raise OptionError (one line, naming the flag) for what FIM does not offer: thinking,
    a model that always thinks, a reasoning effort, tools, max_tokens above 4,096, and the
    chat-only options (JSON mode, several choices, logit bias, seed, user)."""
    if LEGACY_THINKING.get(opts.model) is True:
        raise OptionError(f"{opts.model} always thinks, and FIM runs without thinking: use deepseek-v4-flash")
    if opts.thinking is True:
        raise OptionError("FIM completion runs without thinking: drop --think")
    if opts.reasoning_effort is not None:
        raise OptionError("FIM completion never thinks, so it takes no reasoning effort: drop --effort")
    if opts.tools or opts.tool_choice is not None:
        raise OptionError("FIM completion takes no tools: drop the tools and --tool-choice")
    if opts.max_tokens is not None and opts.max_tokens > MAX_TOKENS:
        limit = f"at most {MAX_TOKENS:,} tokens, not {opts.max_tokens:,}"
        raise OptionError(f"FIM completion writes {limit} (--max-tokens)")
    defaults = RequestOptions()
    for name in _NOT_OFFERED:
        if getattr(opts, name) != getattr(defaults, name) and getattr(opts, name) not in (None, {}):
            raise OptionError(f"FIM completion has no {name} ({OPENAI_ONLY[name]}): drop it")


def build_body(prompt: str, suffix: str | None, opts: RequestOptions, *, echo: bool = False) -> dict[str, Any]:
    """The request body, keys in the order of DeepSeek's documented example (model, prompt,
    echo, frequency_penalty, logprobs, max_tokens, presence_penalty, stop, stream,
    stream_options, suffix, temperature, top_p); unset options are left out. ``logprobs``
    (``--logprobs``) is sent as the number of alternatives (``--top-logprobs``, default 0)."""
    check(opts)
    if echo and suffix is not None:
        raise OptionError("echo repeats the prompt, which FIM cannot do with a suffix: drop echo or the suffix")
    if echo and opts.logprobs:
        raise OptionError("echo and logprobs do not go together in FIM completion: drop one")
    fields: dict[str, Any] = {
        "echo": True if echo else None,
        "frequency_penalty": opts.frequency_penalty,
        "logprobs": (opts.top_logprobs or 0) if opts.logprobs else None,
        "max_tokens": opts.max_tokens,
        "presence_penalty": opts.presence_penalty,
        "stop": list(opts.stop) or None,
        "stream": opts.stream,
        "stream_options": {"include_usage": True} if opts.stream else None,
        "suffix": suffix,
        "temperature": opts.temperature,
        "top_p": opts.top_p,
    }
    body = {"model": opts.model, "prompt": prompt, **{k: v for k, v in fields.items() if v is not None}}
    body.update(opts.extra)
    return body


# --- responses ------------------------------------------------------------------------------


def _text_events(choice: dict[str, Any], idx: int, events: list[Event]) -> None:
    """A completion choice: its ``text`` and its completion-style logprobs."""
    text = choice.get("text")
    if type(text) is str and text:
        events.append(TextDelta(text, idx))
    logprobs = choice.get("logprobs")
    if type(logprobs) is dict:
        entries = _entries(logprobs)
        if entries:
            events.append(LogprobsDelta(entries, idx))


def _entries(logprobs: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """``{tokens, token_logprobs, top_logprobs}`` as chat entries ``{token, logprob, bytes,
    top_logprobs: [{token, logprob, bytes}]}`` (the bytes are not sent: None)."""
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []
    out = []
    for i, token in enumerate(tokens):
        top = tops[i] if i < len(tops) and isinstance(tops[i], Mapping) else {}
        out.append(
            {
                "token": str(token),
                "logprob": values[i] if i < len(values) else None,
                "bytes": None,
                "top_logprobs": [{"token": str(t), "logprob": lp, "bytes": None} for t, lp in top.items()],
            }
        )
    return tuple(out)


#: Events of one decoded chunk of a FIM stream (or of a non-streamed body).
chunk_events = partial(openai_chat.chunk_events, choice_events=_text_events)


class StreamParser(openai_chat.StreamParser):
    """Incremental parser of a FIM stream: ``feed(data)`` per SSE data payload, then
    ``flush()``; never raises on input, stops at ``[DONE]`` (see the chat parser)."""

    def __init__(self) -> None:
        super().__init__(_text_events)


def parse_response(body: bytes | str | Mapping[str, Any]) -> list[Event]:
    """Events equivalent to a non-streamed FIM body (leading blank lines tolerated)."""
    return openai_chat.parse_body(body, _text_events, "a FIM completion")
