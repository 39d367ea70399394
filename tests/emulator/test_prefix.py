"""Prefix continuation in the emulator: the pure continuation, then over loopback on both
protocols (DeepSeek's beta route with ``prefix: true``, Anthropic's final assistant turn),
the documented validation and the routes that can be switched off."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_magic.emulator import Emulator, validate
from evo_magic.emulator.answers import plan
from evo_magic.emulator.continuation import Prefix, anthropic_prefix, continued, openai_prefix

from .conftest import key


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """This module counts usage with the approximate tokens, so a test can count them too."""
    with Emulator(exact_tokens=False) as e:
        yield e

QUICK_SORT = {"role": "user", "content": "Please write quick sort code"}
FENCE = {"role": "assistant", "content": "```python\n", "prefix": True}
BETA_ONLY = 'prefix is only available when using beta api (set base_url="https://api.deepseek.com/beta")'


def code_of(prefix: str, continuation: str) -> str:
    """The code between the prefix's opening fence and the end (or a closing fence)."""
    return (prefix + continuation).split("```python\n", 1)[1].split("```", 1)[0]


# --- pure -----------------------------------------------------------------------------------


def base_plan(question: str = "Explain joins", thinking: bool = True):
    return plan([("user", question)], thinking=thinking)


def test_prefixes_are_found_as_documented() -> None:
    assert openai_prefix([QUICK_SORT, FENCE]) == Prefix("```python\n", None)
    thinking = {"role": "assistant", "content": None, "reasoning_content": "Hm", "prefix": True}
    assert openai_prefix([QUICK_SORT, thinking]) == Prefix("", "Hm")
    assert openai_prefix([QUICK_SORT, {**FENCE, "prefix": False}]) is None
    assert openai_prefix([QUICK_SORT]) is None
    turn = {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "Hm", "signature": "s"}, {"type": "text", "text": "The"}],
    }
    assert anthropic_prefix([QUICK_SORT, turn]) == Prefix("The", "Hm")
    assert anthropic_prefix([QUICK_SORT, {"role": "assistant", "content": "```python\n"}]) == Prefix(
        "```python\n", None
    )
    assert anthropic_prefix([QUICK_SORT]) is None


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_cut_answer_continues_with_exactly_the_rest(data: st.DataObject) -> None:
    """Wherever an emulator answer is cut (in the reasoning or in the text), the continuation
    is the rest of the same answer: cut + continuation == the whole answer."""
    p = base_plan()
    assert p.reasoning is not None
    k = data.draw(st.integers(0, len(p.reasoning)))
    during_thinking = continued(p, Prefix("", p.reasoning[:k]), thinking=True)
    assert p.reasoning[:k] + during_thinking.reasoning == p.reasoning and during_thinking.content == p.content
    j = data.draw(st.integers(1, len(p.content)))
    during_answer = continued(p, Prefix(p.content[:j], p.reasoning), thinking=True)
    assert during_answer.reasoning == "" and p.content[:j] + during_answer.content == p.content


def test_an_open_code_fence_continues_with_code_then_closes_it() -> None:
    p = base_plan("Please write quick sort code", thinking=False)
    c = continued(p, Prefix("```python\n", None), thinking=False)
    assert c.reasoning is None and not c.content.startswith("```")
    compile(code_of("```python\n", c.content), "<emulator>", "exec")  # real Python
    assert "\n```\n" in c.content  # the fence closes, so --stop "```" ends the answer there
    sql = continued(p, Prefix("Here:\n```sql\n", None), thinking=False)
    assert "SELECT" in sql.content.split("```")[0]


def test_a_free_prefix_is_followed_by_the_answer() -> None:
    p = base_plan(thinking=False)
    c = continued(p, Prefix("Sure.", None), thinking=False)
    assert c.content.endswith(p.content) and c.content.startswith(("\n", " "))
    assert continued(p, Prefix("Sure, ", None), thinking=False).content == p.content


def test_new_reasoning_after_a_reasoning_prefix_of_ones_own() -> None:
    p = base_plan()
    c = continued(p, Prefix("", "I would rather start from the definitions."), thinking=True)
    assert c.reasoning and c.reasoning.startswith(" ") and c.content == p.content
    assert continued(p, Prefix("", None), thinking=True).reasoning == p.reasoning


def test_validation_of_the_prefix_field() -> None:
    def check(messages):
        return validate.check_chat({"model": "deepseek-v4-flash", "messages": messages})

    assert check([QUICK_SORT, FENCE]) is None
    assert check([QUICK_SORT, {"role": "assistant", "content": None, "reasoning_content": "r", "prefix": True}]) is None
    assert check([QUICK_SORT, {**FENCE, "prefix": False}, {"role": "user", "content": "x"}]) is None
    middle = check([QUICK_SORT, FENCE, {"role": "user", "content": "more"}])
    assert middle is not None and "messages[1]" in middle and "last" in middle
    on_user = check([{**QUICK_SORT, "prefix": True}])
    assert on_user is not None and "assistant" in on_user
    wrong_type = check([QUICK_SORT, {**FENCE, "prefix": "yes"}])
    assert wrong_type is not None and "messages[1].prefix: invalid type" in wrong_type


# --- over loopback: OpenAI protocol ---------------------------------------------------------


def beta(client, emu, headers=None, path="/beta/chat/completions", **body):
    body.setdefault("model", "deepseek-v4-flash")
    return client.post(emu.url + path, headers=headers or key("prefix"), json=body)


def sse(client, emu, headers=None, path="/beta/chat/completions", **body) -> list[dict]:
    body.setdefault("model", "deepseek-v4-flash")
    with client.stream("POST", emu.url + path, headers=headers or key("prefix"), json={**body, "stream": True}) as r:
        assert r.status_code == 200
        text = r.read().decode()
    assert text.endswith("data: [DONE]\n\n")
    return [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: {")]


def joined(chunks: list[dict], name: str) -> str:
    return "".join(c["choices"][0]["delta"].get(name) or "" for c in chunks if c["choices"])


def test_deepseeks_example_gives_bare_code(client, emu) -> None:
    r = beta(client, emu, messages=[QUICK_SORT, FENCE], stop=["```"], thinking={"type": "disabled"})
    assert r.status_code == 200
    choice = r.json()["choices"][0]
    content = choice["message"]["content"]
    assert not content.startswith("```") and "```" not in content and choice["finish_reason"] == "stop"
    compile(content, "<emulator>", "exec")
    chunks = sse(client, emu, messages=[QUICK_SORT, FENCE], stop=["```"], thinking={"type": "disabled"})
    assert joined(chunks, "content") == content and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == r.json()["usage"]


def test_usage_counts_the_prefix_as_prompt_and_the_continuation_as_output(client, emu) -> None:
    from evo_magic.emulator.tokens import count

    plain = beta(client, emu, messages=[QUICK_SORT], thinking={"type": "disabled"}).json()["usage"]
    r = beta(client, emu, messages=[QUICK_SORT, FENCE], thinking={"type": "disabled"}).json()
    usage = r["usage"]
    assert usage["prompt_tokens"] > plain["prompt_tokens"]
    assert usage["completion_tokens"] == count(r["choices"][0]["message"]["content"])
    assert "completion_tokens_details" not in usage


def test_rescuing_an_answer_whose_reasoning_used_the_budget(client, emu) -> None:
    """The empty-answer case: max_tokens ran out in the reasoning (``content: ""``); a prefix
    message with that reasoning continues it, and the answer follows."""
    h = key("prefix")  # not the key that saw the whole answer: what the echo rule knows, the continuation told it
    question = [{"role": "user", "content": "Explain window functions"}]
    whole = beta(client, emu, messages=question).json()["choices"][0]["message"]
    cut = beta(client, emu, headers=h, messages=question, max_tokens=20).json()
    msg = cut["choices"][0]["message"]
    assert msg["content"] == "" and cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens_details"]["reasoning_tokens"] == 20
    prefix = {"role": "assistant", "content": "", "reasoning_content": msg["reasoning_content"], "prefix": True}
    rest = beta(client, emu, headers=h, messages=[*question, prefix]).json()["choices"][0]
    assert msg["reasoning_content"] + rest["message"]["reasoning_content"] == whole["reasoning_content"]
    assert rest["message"]["content"] == whole["content"] and rest["finish_reason"] == "stop"
    chunks = sse(client, emu, headers=h, messages=[*question, prefix])
    assert joined(chunks, "reasoning_content") == rest["message"]["reasoning_content"]
    assert joined(chunks, "content") == whole["content"]
    # the continued turn goes into the history whole, and passes the echo rule there
    turn = {"role": "assistant", "content": whole["content"], "reasoning_content": whole["reasoning_content"]}
    follow = [*question, turn, {"role": "user", "content": "and ranking?"}]
    assert beta(client, emu, headers=h, messages=follow).status_code == 200
    turn["reasoning_content"] = msg["reasoning_content"]
    assert beta(client, emu, headers=h, messages=follow).status_code == 400


def test_rescuing_an_answer_cut_in_its_text(client, emu) -> None:
    h = key("prefix")
    question = [{"role": "user", "content": "Explain indexes"}]
    whole = beta(client, emu, headers=h, messages=question).json()
    reasoning = whole["usage"]["completion_tokens_details"]["reasoning_tokens"]
    cut = beta(client, emu, headers=h, messages=question, max_tokens=reasoning + 7).json()["choices"][0]["message"]
    assert cut["content"] and cut["content"] != whole["choices"][0]["message"]["content"]
    prefix = {**cut, "prefix": True}  # the cut answer as it came, reasoning included
    rest = beta(client, emu, headers=h, messages=[*question, prefix]).json()
    message = rest["choices"][0]["message"]
    assert cut["content"] + message["content"] == whole["choices"][0]["message"]["content"]
    assert message["reasoning_content"] == "" and rest["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_the_non_beta_routes_refuse_prefix_like_deepseek(client, emu) -> None:
    for path in ("/v1/chat/completions", "/chat/completions"):
        r = beta(client, emu, path=path, messages=[QUICK_SORT, FENCE])
        assert r.status_code == 400
        assert r.json() == {
            "error": {
                "message": BETA_ONLY,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        }
        assert beta(client, emu, path=path, messages=[QUICK_SORT, {**FENCE, "prefix": False}]).status_code == 200


def test_prefix_anywhere_but_on_the_last_assistant_message_is_a_400(client, emu) -> None:
    r = beta(client, emu, messages=[QUICK_SORT, FENCE, {"role": "user", "content": "go on"}])
    error = r.json()["error"]
    assert r.status_code == 400 and set(error) == {"message", "type", "param", "code"}
    assert "messages[1]" in error["message"] and error["type"] == "invalid_request_error"


def test_routes_can_be_switched_off_and_on(client, emu) -> None:
    assert emu.routes["/beta/chat/completions"] == "beta_chat" and emu.routes["/v1/chat/completions"] == "chat"
    emu.close_route("/beta/chat/completions")
    try:
        gone = beta(client, emu, messages=[QUICK_SORT, FENCE])
        assert gone.status_code == 404 and gone.json()["error"]["message"] == "Unknown path /beta/chat/completions"
        emu.open_route("/v1/chat/completions", "beta_chat")  # a gateway that takes prefix on its chat route
        assert beta(client, emu, path="/v1/chat/completions", messages=[QUICK_SORT, FENCE]).status_code == 200
    finally:
        emu.open_route("/beta/chat/completions", "beta_chat")
        emu.open_route("/v1/chat/completions", "chat")
    assert beta(client, emu, messages=[QUICK_SORT, FENCE]).status_code == 200
    with pytest.raises(ValueError, match="kind"):
        emu.open_route("/x", "teleport")
    with pytest.raises(ValueError, match="start with /"):
        emu.open_route("x", "chat")


# --- over loopback: Anthropic protocol ------------------------------------------------------


def messages_api(client, emu, **body):
    body.setdefault("model", "deepseek-v4-flash")
    body.setdefault("max_tokens", 4096)
    return client.post(emu.url + "/v1/messages", headers=key("prefix"), json=body)


def test_anthropic_final_assistant_turn_is_continued(client, emu) -> None:
    fence = {"role": "assistant", "content": "```python\n"}
    r = messages_api(client, emu, messages=[QUICK_SORT, fence], stop_sequences=["```"], thinking={"type": "disabled"})
    body = r.json()
    assert r.status_code == 200 and [b["type"] for b in body["content"]] == ["text"]
    text = body["content"][0]["text"]
    assert not text.startswith("```") and "```" not in text
    compile(text, "<emulator>", "exec")
    assert body["stop_reason"] == "stop_sequence" and body["stop_sequence"] == "```"


def test_anthropic_continues_a_thinking_block_then_answers(client, emu) -> None:
    question = [{"role": "user", "content": "Explain window functions"}]
    whole = messages_api(client, emu, messages=question).json()["content"]
    thought = whole[0]["thinking"]
    turn = {"role": "assistant", "content": [{"type": "thinking", "thinking": thought[:50], "signature": "s"}]}
    r = messages_api(client, emu, messages=[*question, turn]).json()
    assert thought[:50] + r["content"][0]["thinking"] == thought and r["content"][1]["text"] == whole[1]["text"]
    with_text = {"role": "assistant", "content": [*turn["content"], {"type": "text", "text": whole[1]["text"][:30]}]}
    r = messages_api(client, emu, messages=[*question, with_text]).json()
    assert [b["type"] for b in r["content"]] == ["text"]  # the thinking is over: no new block
    assert whole[1]["text"][:30] + r["content"][0]["text"] == whole[1]["text"]


def test_anthropic_final_turn_with_tool_use_is_a_400(client, emu) -> None:
    turn = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    r = messages_api(client, emu, messages=[QUICK_SORT, turn])
    assert r.status_code == 400 and r.json()["type"] == "error"
    assert re.search(r"tool_use", r.json()["error"]["message"])


# --- billing --------------------------------------------------------------------------------


def test_the_prefix_is_billed_as_the_open_assistant_turn(client, emu) -> None:
    """The prompt of a prefix request is the history's, then the prefix's reasoning and text
    (the assistant turn the model goes on writing), not a finished turn."""
    from evo_magic.emulator.tokens import count

    question = [{"role": "user", "content": "Explain window functions"}]
    plain = beta(client, emu, messages=question).json()["usage"]["prompt_tokens"]
    reasoning, text = "The user asks about window functions, partitions and frames.", "Window functions"
    prefix = {"role": "assistant", "content": text, "reasoning_content": reasoning, "prefix": True}
    prefixed = beta(client, emu, messages=[*question, prefix]).json()["usage"]["prompt_tokens"]
    assert prefixed == plain + count(reasoning) + count(text)
    off = {"thinking": {"type": "disabled"}}  # without thinking, reasoning_content is not read
    plain_off = beta(client, emu, messages=question, **off).json()["usage"]["prompt_tokens"]
    with_prefix = beta(client, emu, messages=[*question, prefix], **off).json()["usage"]
    assert with_prefix["prompt_tokens"] == plain_off + count(text)


def test_an_empty_answer_cut_at_max_tokens_is_all_reasoning_in_exact_counts() -> None:
    """Counted with DeepSeek's tokenizer, an answer that is empty because max_tokens ran out
    in the reasoning reports every completion token as a reasoning token, as DeepSeek does."""
    pytest.importorskip("tokenizers")
    from evo_magic.emulator.tokens import Billing

    billing = Billing(exact=True)
    thought = "Let me think about window functions and their frames. " * 2  # ~20 tokens, cut at 30
    assert billing.completion(thought, "", [], (30, 30), 30, True) == (30, 30)
    total, reasoning = billing.completion(thought[:60], "Done.", [], (20, 14), 20, True)
    assert total == 20 and reasoning < 20  # with answer text, the reasoning is its own count
