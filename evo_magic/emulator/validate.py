"""Request validation as the vendor documents it (pure functions).

Every check takes the parsed JSON body and returns the message of the vendor's 400 answer,
or None when the body passes. Type errors read like DeepSeek's (a Rust server):
``Failed to deserialize the JSON body into the target type: messages[1]: missing field
`content```; range errors name the parameter: ``Invalid temperature value, the valid range
of temperature is [0, 2]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MODELS = {  # requested name -> the model that answers (the response's "model")
    "deepseek-v4-flash": "deepseek-v4-flash",
    "deepseek-v4-pro": "deepseek-v4-pro",
    "deepseek-chat": "deepseek-v4-flash",
    "deepseek-reasoner": "deepseek-v4-flash",
}
ROLES = ("system", "user", "assistant", "tool", "developer")
REASONER_REJECTS = ("temperature", "top_p", "tools", "tool_choice", "response_format")
RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2),
}
MAX_TOKENS = 384_000
MAX_TOOLS = 128
MAX_STOP = 16
ECHO_RULE = "The reasoning_content in the thinking mode must be passed back to the API."
# DeepSeek's answer to prefix: true off its beta base (as a gateway relays it, e.g. new-api#999)
BETA_ONLY = 'prefix is only available when using beta api (set base_url="https://api.deepseek.com/beta")'
DESERIALIZE = "Failed to deserialize the JSON body into the target type: "


def thinking_on(body: Mapping[str, Any]) -> bool:
    """Whether the request thinks: always for deepseek-reasoner, never for deepseek-chat,
    by default for the V4 models unless ``thinking.type`` is "disabled"."""
    model = body.get("model")
    if model == "deepseek-reasoner":
        return True
    if model == "deepseek-chat":
        return False
    thinking = body.get("thinking")
    return not (isinstance(thinking, Mapping) and thinking.get("type") == "disabled")


def _kind(value: Any) -> str:
    """A JSON value described as serde does in its "invalid type" errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value[:40]}"'
    return "sequence" if isinstance(value, list) else "map"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _object(value: Any) -> bool:
    return isinstance(value, Mapping)


def _array(value: Any) -> bool:
    return isinstance(value, list)


def _stop(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(s, str) for s in value))


def _tool_choice(value: Any) -> bool:
    return value in ("none", "auto", "required") or (
        isinstance(value, Mapping) and isinstance(value.get("function"), Mapping)
    )


# Optional top-level fields of the OpenAI protocol: name -> (accepts, what serde expected).
FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (_number, "f32"),
    "top_p": (_number, "f32"),
    "frequency_penalty": (_number, "f32"),
    "presence_penalty": (_number, "f32"),
    "max_tokens": (_integer, "u32"),
    "n": (_integer, "u32"),
    "top_logprobs": (_integer, "u32"),
    "seed": (_integer, "u64"),
    "stream": (_boolean, "a boolean"),
    "logprobs": (_boolean, "a boolean"),
    "stream_options": (_object, "struct StreamOptions"),
    "thinking": (_object, "struct Thinking"),
    "response_format": (_object, "struct ResponseFormat"),
    "logit_bias": (_object, "a map"),
    "tools": (_array, "a sequence"),
    "stop": (_stop, "a string or a sequence of strings"),
    "tool_choice": (_tool_choice, "none, auto, required or a named function"),
    "user": (_string, "a string"),
    "reasoning_effort": (_string, "a string"),
}


CHAT_REQUIRED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model": (_string, "a string"),
    "messages": (_array, "a sequence"),
}


def check_types(
    body: Any,
    fields: Mapping[str, tuple[Callable[[Any], bool], str]] = FIELDS,
    required: Mapping[str, tuple[Callable[[Any], bool], str]] = CHAT_REQUIRED,
    struct: str = "ChatCompletionRequest",
) -> str | None:
    """The body is an object with the ``required`` fields (by default a string ``model`` and
    an array ``messages``) and optional ``fields`` of the right JSON types (null counts as
    absent)."""
    if not isinstance(body, Mapping):
        return f"{DESERIALIZE}invalid type: {_kind(body)}, expected struct {struct}"
    for name in required:
        if name not in body:
            return f"{DESERIALIZE}missing field `{name}`"
    for name, (accepts, expected) in required.items():
        if not accepts(body[name]):
            return f"{DESERIALIZE}{name}: invalid type: {_kind(body[name])}, expected {expected}"
    for name, (accepts, expected) in fields.items():
        value = body.get(name)
        if value is not None and not accepts(value):
            return f"{DESERIALIZE}{name}: invalid type: {_kind(value)}, expected {expected}"
    return None


def _in_range(body: Mapping[str, Any], name: str, low: float, high: float) -> str | None:
    value = body.get(name)
    if value is not None and not low <= value <= high:
        return f"Invalid {name} value, the valid range of {name} is [{low}, {high}]"
    return None


def check_ranges(body: Mapping[str, Any], max_tokens: int) -> str | None:
    """Sampling ranges, ``max_tokens`` in [1, ``max_tokens``], and a known ``thinking.type``."""
    for name, (low, high) in [*RANGES.items(), ("max_tokens", (1, max_tokens))]:
        problem = _in_range(body, name, low, high)
        if problem:
            return problem
    thinking = body.get("thinking")
    if thinking is not None and thinking.get("type") not in ("enabled", "disabled"):
        return f"Invalid thinking.type: {thinking.get('type')!r}, expected enabled or disabled"
    return None


def check_common(body: Mapping[str, Any]) -> str | None:
    """Checks shared by both protocols, on a body whose types passed: model, ranges,
    thinking, tool count, and what deepseek-reasoner refuses."""
    model = body["model"]
    if model not in MODELS:
        return "Model Not Exist"
    if not body["messages"]:
        return "Invalid messages: the messages array must not be empty"
    problem = check_ranges(body, MAX_TOKENS)
    if problem:
        return problem
    if len(body.get("tools") or ()) > MAX_TOOLS:
        return f"Invalid tools: at most {MAX_TOOLS} tools are supported"
    if model == "deepseek-reasoner":
        for name in REASONER_REJECTS:
            if body.get(name) is not None:
                return f"deepseek-reasoner does not support the parameter: {name}"
    return None


def check_message(i: int, m: Any) -> str | None:
    """One OpenAI-protocol message: a known role, content of the right type, tool_call_id."""
    where = f"{DESERIALIZE}messages[{i}]"
    if not isinstance(m, Mapping):
        return f"{where}: invalid type: {_kind(m)}, expected struct Message"
    if "role" not in m:
        return f"{where}: missing field `role`"
    role = m["role"]
    if role not in ROLES:
        expected = ", ".join(f"`{r}`" for r in ROLES)
        return f"{where}.role: unknown variant `{role}`, expected one of {expected}"
    content = m.get("content")
    prefix = m.get("prefix")
    if prefix is not None and not isinstance(prefix, bool):
        return f"{where}.prefix: invalid type: {_kind(prefix)}, expected a boolean"
    if role == "assistant":
        if content is None and not m.get("tool_calls") and "reasoning_content" not in m and not m.get("prefix"):
            return f"{where}: missing field `content`"
        if content is not None and not isinstance(content, (str, list)):
            return f"{where}.content: invalid type: {_kind(content)}, expected a string"
        calls = m.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list)
            and all(isinstance(c, Mapping) and isinstance(c.get("function"), Mapping) for c in calls)
        ):
            return f"{where}.tool_calls: invalid type: {_kind(calls)}, expected a sequence of tool calls"
        return None
    if "content" not in m or content is None:
        return f"{where}: missing field `content`"
    if not isinstance(content, (str, list)):
        return f"{where}.content: invalid type: {_kind(content)}, expected a string"
    if role == "tool" and not isinstance(m.get("tool_call_id"), str):
        return f"{where}: missing field `tool_call_id`"
    return None


def check_prefix(messages: list[Any]) -> str | None:
    """``prefix: true`` (chat prefix completion) only on the last message, an assistant one."""
    last = len(messages) - 1
    for i, m in enumerate(messages):
        if m.get("prefix") is True and (i != last or m["role"] != "assistant"):
            return (
                f"Invalid messages[{i}]: prefix is only allowed on the last message, "
                "and that message must be an assistant message"
            )
    return None


def check_stop_and_stream(body: Mapping[str, Any]) -> str | None:
    """At most 16 stop sequences; stream_options only with stream = true."""
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP:
        return f"Invalid stop: at most {MAX_STOP} stop sequences are supported"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "stream_options should be set along with stream = true"
    return None


def check_chat(body: Any) -> str | None:
    """Every OpenAI Chat Completions rule the docs state (the echo rule aside: it needs the
    emulator's memory, see chat.py)."""
    problem = check_types(body) or check_common(body)
    if problem:
        return problem
    for i, m in enumerate(body["messages"]):
        problem = check_message(i, m)
        if problem:
            return problem
    problem = check_prefix(body["messages"])
    if problem:
        return problem
    problem = check_stop_and_stream(body)
    if problem:
        return problem
    n = body.get("n")
    if n is not None and not 1 <= n <= 8:
        return "Invalid n value, the valid range of n is [1, 8]"
    top = body.get("top_logprobs")
    if top is not None:
        if not 0 <= top <= 20:
            return "Invalid top_logprobs value, the valid range of top_logprobs is [0, 20]"
        if not body.get("logprobs"):
            return "Invalid top_logprobs: logprobs must be true when top_logprobs is set"
    for token, bias in (body.get("logit_bias") or {}).items():
        if not _number(bias) or not -100 <= bias <= 100:
            return f"Invalid logit_bias value for token {token}, the valid range is [-100, 100]"
    rf = body.get("response_format")
    if rf is not None and rf.get("type") not in ("text", "json_object"):
        return f"Invalid response_format.type: {rf.get('type')!r}, expected text or json_object"
    for i, tool in enumerate(body.get("tools") or ()):
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            return f"{DESERIALIZE}tools[{i}]: missing field `function`.`name`"
    choice = body.get("tool_choice")
    if thinking_on(body) and (choice == "required" or isinstance(choice, Mapping)):
        return "Invalid tool_choice: required or a named function is not supported in thinking mode"
    return None


# Anthropic Messages: its own types (content blocks, system, stop_sequences) over the shared rules.
ANTHROPIC_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{k: FIELDS[k] for k in ("temperature", "top_p", "max_tokens", "stream", "thinking", "tools")},
    "top_k": (_integer, "u32"),
    "stop_sequences": (_stop, "a sequence of strings"),
    "system": (lambda v: isinstance(v, (str, list)), "a string or a sequence of blocks"),
    "tool_choice": (_object, "struct ToolChoice"),
    "metadata": (_object, "struct Metadata"),
}


def check_messages_api(body: Any) -> str | None:
    """Anthropic Messages rules: max_tokens required, roles user / assistant; an unknown
    model is served by deepseek-v4-flash (EvoLink maps it), so it is not an error here."""
    if isinstance(body, Mapping) and not isinstance(body.get("model"), str):
        body = {**body, "model": "deepseek-v4-flash"}
    problem = check_types(body, ANTHROPIC_FIELDS)
    if problem:
        return problem
    problem = check_common({**body, "model": body["model"] if body["model"] in MODELS else "deepseek-v4-flash"})
    if problem:
        return problem
    if body.get("max_tokens") is None:
        return "max_tokens: Field required"
    for i, m in enumerate(body["messages"]):
        if not isinstance(m, Mapping) or m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if not isinstance(m.get("content"), (str, list)):
            return f"messages.{i}.content: Field required"
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        return "tool_choice.type must be auto, any, tool or none"
    last, n = body["messages"][-1], len(body["messages"]) - 1
    blocks = last["content"] if isinstance(last["content"], list) else []
    if last["role"] == "assistant" and any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in blocks):
        return (
            f"messages.{n}: a final assistant turn is continued (a prefill) and cannot hold tool_use blocks; "
            "send their tool_result blocks in a user turn"
        )
    return None


# FIM completion (DeepSeek's beta /completions): prompt (+ suffix) instead of messages.
FIM_MAX_TOKENS = 4_096  # "The max tokens of FIM completion is 4K"
FIM_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{k: FIELDS[k] for k in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "max_tokens")},
    **{k: FIELDS[k] for k in ("stream", "stream_options", "stop", "thinking")},
    "suffix": (_string, "a string"),
    "echo": (_boolean, "a boolean"),
    "logprobs": (_integer, "u32"),
}
FIM_REQUIRED = {"model": CHAT_REQUIRED["model"], "prompt": (_string, "a string")}
NOT_THINKING = "FIM completion is only available in non-thinking mode"


def check_fim(body: Any) -> str | None:
    """Every FIM rule the docs state: prompt required, max_tokens up to 4K, logprobs up to 20,
    echo with neither suffix nor logprobs, and no thinking (nor a model that always thinks)."""
    problem = check_types(body, FIM_FIELDS, FIM_REQUIRED, "CompletionRequest")
    if problem:
        return problem
    if body["model"] not in MODELS:
        return "Model Not Exist"
    problem = check_ranges(body, FIM_MAX_TOKENS) or _in_range(body, "logprobs", 0, 20)
    if problem:
        return problem
    if body["model"] == "deepseek-reasoner":
        return f"{NOT_THINKING}: deepseek-reasoner always thinks"
    if (body.get("thinking") or {}).get("type") == "enabled":
        return f"{NOT_THINKING}: set thinking.type to disabled, or leave thinking out"
    if body.get("echo") and body.get("suffix") is not None:
        return "Invalid echo: echo cannot be used together with suffix"
    if body.get("echo") and body.get("logprobs") is not None:
        return "Invalid echo: echo cannot be used together with logprobs"
    return check_stop_and_stream(body)
