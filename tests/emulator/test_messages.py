"""Tests of ``evo_magic.emulator.messages`` (``POST /v1/messages``) through the Anthropic SDK."""

from __future__ import annotations

# the SDKs are imported in the tests that use them: about a second each, which every quick-loop
# worker would otherwise pay while collecting
import pytest


@pytest.fixture
def an(emu):
    import anthropic

    client = anthropic.Anthropic(base_url=emu.url, auth_token="sk-sdk-test-0001", api_key=None, max_retries=0)
    yield client
    client.close()


def test_anthropic_sdk_streams_thinking_text_and_usage(an) -> None:
    with an.messages.stream(
        model="deepseek-v4-flash", max_tokens=4000, messages=[{"role": "user", "content": "Explain a t-test"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    thinking = [b for b in final.content if b.type == "thinking"]
    assert text and thinking and thinking[0].signature == final.id
    assert final.usage.output_tokens > 0 and final.stop_reason == "end_turn"


def test_anthropic_sdk_tool_use_and_error(an) -> None:
    import anthropic

    msg = an.messages.create(
        model="deepseek-v4-flash",
        max_tokens=2000,
        thinking={"type": "disabled"},
        tools=[{"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        messages=[{"role": "user", "content": "Check weather in Oslo"}],
    )
    use = next(b for b in msg.content if b.type == "tool_use")
    assert msg.stop_reason == "tool_use" and use.input == {"city": "Oslo"}
    with pytest.raises(anthropic.BadRequestError):
        an.messages.create(model="deepseek-v4-flash", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
