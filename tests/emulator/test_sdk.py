"""Conformance: the official openai and anthropic SDKs, as independent clients, get prefix
continuation and FIM from the emulator, streamed and not, on the routes DeepSeek documents."""

from __future__ import annotations

# the SDKs are imported in the tests that use them: about a second each, which every quick-loop
# worker would otherwise pay while collecting
import pytest

from evo_magic.emulator.fill import fill

FIB = ("def fib(a):", "    return fib(a-1) + fib(a-2)")
QUICK_SORT = {"role": "user", "content": "Please write quick sort code"}
FENCE = {"role": "assistant", "content": "```python\n", "prefix": True}
NO_THINKING = {"thinking": {"type": "disabled"}}


@pytest.fixture
def beta(emu):
    """An OpenAI client on DeepSeek's beta base, as its guides set it up (``base_url=.../beta``)."""
    import openai

    client = openai.OpenAI(base_url=emu.url + "/beta", api_key="sk-sdk-beta-0001", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def an(emu):
    import anthropic

    client = anthropic.Anthropic(base_url=emu.url, auth_token="sk-sdk-beta-0002", api_key=None, max_retries=0)
    yield client
    client.close()


def test_fim_with_completions_create(beta) -> None:
    r = beta.completions.create(model="deepseek-v4-pro", prompt=FIB[0], suffix=FIB[1], max_tokens=128)
    choice = r.choices[0]
    assert choice.text == fill(*FIB) and choice.finish_reason == "stop" and r.object == "text_completion"
    assert r.model == "deepseek-v4-pro" and r.usage.completion_tokens > 0
    compile(FIB[0] + choice.text + FIB[1], "<fim>", "exec")


def test_fim_streamed(beta) -> None:
    stream = beta.completions.create(
        model="deepseek-v4-flash",
        prompt=FIB[0],
        suffix=FIB[1],
        max_tokens=128,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = [], None, None
    for chunk in stream:
        for choice in chunk.choices:
            text.append(choice.text)
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert "".join(text) == fill(*FIB) and finish == "stop" and usage is not None and usage.total_tokens > 0


def test_fim_errors_reach_the_sdk_as_400s(beta) -> None:
    import openai

    with pytest.raises(openai.BadRequestError, match="non-thinking"):
        beta.completions.create(model="deepseek-v4-flash", prompt="x", extra_body={"thinking": {"type": "enabled"}})
    with pytest.raises(openai.BadRequestError, match=r"\[1, 4096\]"):
        beta.completions.create(model="deepseek-v4-flash", prompt="x", max_tokens=8192)


def test_prefix_continuation_with_the_message_dict(beta) -> None:
    r = beta.chat.completions.create(
        model="deepseek-v4-flash", messages=[QUICK_SORT, FENCE], stop=["```"], extra_body=NO_THINKING
    )
    code = r.choices[0].message.content
    assert not code.startswith("```") and "```" not in code and r.choices[0].finish_reason == "stop"
    compile(code, "<prefix>", "exec")
    stream = beta.chat.completions.create(
        model="deepseek-v4-flash", messages=[QUICK_SORT, FENCE], stop=["```"], stream=True, extra_body=NO_THINKING
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == code


def test_prefix_with_reasoning_content_in_thinking_mode(beta) -> None:
    question = {"role": "user", "content": "Explain window functions"}
    whole = beta.chat.completions.create(model="deepseek-v4-flash", messages=[question]).choices[0].message
    thought = whole.model_extra["reasoning_content"]
    prefix = {"role": "assistant", "content": "", "reasoning_content": thought[:40], "prefix": True}
    stream = beta.chat.completions.create(model="deepseek-v4-flash", messages=[question, prefix], stream=True)
    reasoning, text = [], []
    for chunk in stream:
        if chunk.choices:
            reasoning.append((chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or "")
            text.append(chunk.choices[0].delta.content or "")
    assert thought[:40] + "".join(reasoning) == thought and "".join(text) == whole.content


def test_prefix_off_the_beta_base_is_deepseeks_400(emu) -> None:
    import openai

    v1 = openai.OpenAI(base_url=emu.url + "/v1", api_key="sk-sdk-beta-0003", max_retries=0)
    with v1, pytest.raises(openai.BadRequestError, match="prefix is only available when using beta api"):
        v1.chat.completions.create(model="deepseek-v4-flash", messages=[QUICK_SORT, FENCE])


def test_anthropic_assistant_prefill_is_continued(an) -> None:
    messages = [QUICK_SORT, {"role": "assistant", "content": "```python\n"}]
    msg = an.messages.create(
        model="deepseek-v4-flash",
        max_tokens=2048,
        messages=messages,
        stop_sequences=["```"],
        thinking={"type": "disabled"},
    )
    code = msg.content[0].text
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "```" and "```" not in code
    compile(code, "<prefill>", "exec")
    with an.messages.stream(
        model="deepseek-v4-flash",
        max_tokens=2048,
        messages=messages,
        stop_sequences=["```"],
        thinking={"type": "disabled"},
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == code and final.stop_reason == "stop_sequence" and final.stop_sequence == "```"
