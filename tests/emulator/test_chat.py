"""Conformance: the official openai and anthropic SDKs are independent clients of the emulator."""

from __future__ import annotations

# the SDKs are imported in the tests that use them: about a second each, which every quick-loop
# worker would otherwise pay while collecting
import json

import pytest


@pytest.fixture
def oa(emu):
    import openai

    client = openai.OpenAI(base_url=emu.url + "/v1", api_key="test-key", max_retries=0)
    yield client
    client.close()


def test_openai_sdk_streams_reasoning_text_and_usage(oa) -> None:
    text, reasoning, usage = [], [], None
    for _ in range(2):  # the second identical request hits the prefix cache
        stream = oa.chat.completions.create(
            model="deepseek-v4-flash",
            messages=[
                {"role": "system", "content": "Be precise. " * 60},
                {"role": "user", "content": "Explain groupby"},
            ],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"thinking": {"type": "enabled"}},
        )
        text, reasoning, usage = [], [], None
        for chunk in stream:
            if chunk.choices:
                delta = chunk.choices[0].delta
                text.append(delta.content or "")
                reasoning.append((delta.model_extra or {}).get("reasoning_content") or "")
                assert getattr(delta, "reasoning_content", None) == (delta.model_extra or {}).get("reasoning_content")
            if chunk.usage is not None:
                usage = chunk.usage
    assert "groupby" in "".join(text) and "".join(reasoning)
    assert usage is not None and usage.completion_tokens_details.reasoning_tokens > 0
    assert usage.model_extra["prompt_cache_hit_tokens"] >= 128 and usage.prompt_tokens_details.cached_tokens >= 128


def test_openai_sdk_nonstreamed(oa) -> None:
    r = oa.chat.completions.create(model="deepseek-v4-pro", messages=[{"role": "user", "content": "What is 2+2?"}])
    message = r.choices[0].message
    assert message.content.startswith("**4**") and message.model_extra["reasoning_content"]
    assert r.model == "deepseek-v4-pro" and r.usage.model_extra["prompt_cache_miss_tokens"] > 0
    off = oa.chat.completions.create(
        model="deepseek-v4-flash",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        extra_body={"thinking": {"type": "disabled"}},
    )
    assert "reasoning_content" not in (off.choices[0].message.model_extra or {})


def test_openai_sdk_nonstreamed_tool_call_and_error(oa) -> None:
    import openai

    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        }
    ]
    r = oa.chat.completions.create(
        model="deepseek-v4-pro", messages=[{"role": "user", "content": "Please lookup Tokyo"}], tools=tools
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"q": "Tokyo"}
    with pytest.raises(openai.BadRequestError, match="temperature"):
        oa.chat.completions.create(
            model="deepseek-v4-flash", messages=[{"role": "user", "content": "x"}], temperature=5
        )
    with pytest.raises(openai.AuthenticationError):
        oa.with_options(api_key="invalid").chat.completions.create(
            model="deepseek-v4-flash", messages=[{"role": "user", "content": "x"}]
        )




