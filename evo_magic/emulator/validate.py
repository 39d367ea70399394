"""Request validation as the vendor docs state it (pure). Each check returns an error
message (the API answers 400 with it) or None."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODELS = {
    "deepseek-v4-flash": "deepseek-v4-flash",
    "deepseek-v4-pro": "deepseek-v4-pro",
    "deepseek-chat": "deepseek-v4-flash",
    "deepseek-reasoner": "deepseek-v4-flash",
}
ROLES = {"system", "user", "assistant", "tool", "developer"}
REASONER_REJECTS = ("temperature", "top_p", "tools", "tool_choice", "response_format")
RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2),
}
ECHO_RULE = "The reasoning_content in the thinking mode must be passed back to the API."


def thinking_on(body: Mapping[str, Any]) -> bool:
    model = body.get("model")
    if model == "deepseek-reasoner":
        return True
    if model == "deepseek-chat":
        return False
    thinking = body.get("thinking")
    return not (isinstance(thinking, Mapping) and thinking.get("type") == "disabled")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_common(body: Any) -> str | None:
    """Checks shared by both protocols: model, messages, ranges, thinking."""
    if not isinstance(body, Mapping):
        return "Request body must be a JSON object"
    model = body.get("model")
    if not model:
        return "Missing required parameter: model"
    if model not in MODELS:
        return "Model Not Exist"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is not None and (not _number(value) or not low <= value <= high):
            return f"Invalid {name}: must be between {low} and {high}"
    mt = body.get("max_tokens")
    if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or not 1 <= mt <= 384000):
        return "Invalid max_tokens: must be an integer between 1 and 384000"
    thinking = body.get("thinking")
    if thinking is not None and (
        not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "disabled")
    ):
        return "Invalid thinking.type: must be enabled or disabled"
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or len(tools) > 128):
        return "tools must be an array of at most 128 tools"
    if model == "deepseek-reasoner":
        for name in REASONER_REJECTS:
            if body.get(name) is not None:
                return f"deepseek-reasoner does not support the parameter: {name}"
    return None


def check_chat(body: Mapping[str, Any]) -> str | None:
    """OpenAI Chat Completions rules."""
    problem = check_common(body)
    if problem:
        return problem
    for i, m in enumerate(body["messages"]):
        if not isinstance(m, Mapping) or m.get("role") not in ROLES:
            return f"messages[{i}]: invalid role"
        if m["role"] == "tool" and not m.get("tool_call_id"):
            return f"messages[{i}]: tool message needs tool_call_id"
        if m["role"] == "user" and not isinstance(m.get("content"), (str, list)):
            return f"messages[{i}]: content is required"
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > 16:
        return "stop: at most 16 sequences"
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 8):
        return "Invalid n: must be between 1 and 8"
    top = body.get("top_logprobs")
    if top is not None:
        if not isinstance(top, int) or not 0 <= top <= 20:
            return "Invalid top_logprobs: must be between 0 and 20"
        if not body.get("logprobs"):
            return "top_logprobs requires logprobs to be true"
    for token, bias in (body.get("logit_bias") or {}).items():
        if not _number(bias) or not -100 <= bias <= 100:
            return f"Invalid logit_bias for token {token}: must be between -100 and 100"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "stream_options should be set along with stream = true"
    choice = body.get("tool_choice")
    if thinking_on(body) and (choice == "required" or isinstance(choice, Mapping)):
        return "tool_choice required or a named function is not supported in thinking mode"
    rf = body.get("response_format")
    if rf is not None and (not isinstance(rf, Mapping) or rf.get("type") not in ("text", "json_object")):
        return "response_format.type must be text or json_object"
    return None


def check_messages_api(body: Mapping[str, Any]) -> str | None:
    """Anthropic Messages rules (max_tokens required, roles user / assistant)."""
    problem = check_common({**body, "model": body.get("model") or "deepseek-v4-flash"})
    if problem and problem != "Model Not Exist":
        return problem
    if body.get("max_tokens") is None:
        return "max_tokens: Field required"
    for i, m in enumerate(body.get("messages") or []):
        if not isinstance(m, Mapping) or m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") not in ("auto", "any", "tool", "none"):
        return "tool_choice.type must be auto, any, tool or none"
    return None
