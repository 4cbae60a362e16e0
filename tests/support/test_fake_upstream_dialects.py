"""The fake upstream in every dialect, driven by the official openai, anthropic and google-genai SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.support.embeddings_wire import embedding_vector, estimate_tokens
from tests.support.fake_upstream import FakeUpstream, Reply, ToolCall, Usage
from tests.support.replies import DEFAULT_SIGNATURE

pytest_plugins = ["tests.support.fixtures"]

KEY = "sk-test-dialects-123456"
USAGE = Usage(prompt_tokens=40, completion_tokens=15, cached_tokens=10, reasoning_tokens=6)
WEATHER = ToolCall("get_weather", {"city": "Paris", "unit": "C"})
THINK_AND_CALL = Reply.ok(
    "Let me check.", thinking="The user wants weather.", tool_calls=[WEATHER], usage=USAGE
)
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def oai(fake_upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake_upstream.base_url, api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def claude(fake_upstream: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=fake_upstream.root_url, api_key=KEY, max_retries=0, timeout=5
    ) as client:
        yield client


def gemini_client(up: FakeUpstream, **options: Any) -> genai.Client:
    http = genai_types.HttpOptions(base_url=up.root_url, api_version="v1beta", timeout=5000)
    return genai.Client(api_key=KEY, http_options=http, **options)


@pytest.fixture
def gemini(fake_upstream: FakeUpstream) -> Iterator[genai.Client]:
    with gemini_client(fake_upstream) as client:
        yield client


# -- OpenAI Chat ---------------------------------------------------------------------------------


def test_chat_thinking_then_text_then_tool_call(fake_upstream: FakeUpstream, oai: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    completion = oai.chat.completions.create(model="gpt-4o", messages=HI)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    assert choice.message.model_extra["reasoning_content"] == "The user wants weather."
    (call,) = choice.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris", "unit": "C"},
    )
    assert call.id.startswith("call_")
    with oai.chat.completions.create(model="gpt-4o", messages=HI, stream=True) as stream:
        chunks = list(stream)
    reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content", "") for c in chunks)
    assert reasoning == "The user wants weather."
    assert [c.choices[0].finish_reason for c in chunks][-1] == "tool_calls"


def test_chat_parallel_tool_calls_interleave_fragments(fake_upstream: FakeUpstream) -> None:
    calls = [ToolCall("a", {"x": "first value"}, id="call_A"), ToolCall("b", {"y": [1, 2, 3]})]
    fake_upstream.default = Reply.ok(tool_calls=calls)
    body = {"model": "gpt-4o", "messages": HI, "stream": True}
    response = httpx.post(
        f"{fake_upstream.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )
    events = [json.loads(line[6:]) for line in response.text.split("\n\n") if line[6:7] == "{"]
    fragments = [e["choices"][0]["delta"]["tool_calls"][0] for e in events[1:-1]]
    assert [f["index"] for f in fragments] == [0, 1, 0, 1, 0, 1, 0, 1]
    assert fragments[0]["id"] == "call_A"
    assert fragments[1]["function"] == {"name": "b", "arguments": ""}
    joined = [
        "".join(f["function"]["arguments"] for f in fragments if f["index"] == i) for i in (0, 1)
    ]
    assert [json.loads(args) for args in joined] == [{"x": "first value"}, {"y": [1, 2, 3]}]
    assert all("content" not in e["choices"][0]["delta"] for e in events[1:])


def test_embeddings_float_and_sdk_default_base64(fake_upstream: FakeUpstream, oai: Any) -> None:
    default = oai.embeddings.create(model="text-embedding-3-small", input=["a", "bb"])
    floats = oai.embeddings.create(model="e", input="a", encoding_format="float", dimensions=16)
    assert [d.embedding for d in default.data] == [embedding_vector("a"), embedding_vector("bb")]
    assert floats.data[0].embedding == embedding_vector("a", 16)
    first, second = fake_upstream.requests
    assert first.json["encoding_format"] == "base64"  # what the SDK asks for by default (§3)
    assert (second.endpoint, second.dialect, second.model) == ("embeddings", "openai", "e")


# -- OpenAI Responses and Codex ------------------------------------------------------------------


def test_responses_non_stream_items_and_usage(fake_upstream: FakeUpstream, oai: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    response = oai.responses.create(model="gpt-5", input="hi", instructions="Be brief.")
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[0].summary[0].text == "The user wants weather."
    assert response.output_text == "Let me check."
    call = response.output[2]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", WEATHER.arguments)
    assert call.call_id.startswith("call_")
    assert response.instructions == "Be brief."
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (40, 15, 55)
    assert usage.input_tokens_details.cached_tokens == 10
    assert usage.output_tokens_details.reasoning_tokens == 6


def test_responses_stream_lifecycle(fake_upstream: FakeUpstream, oai: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    with oai.responses.stream(model="gpt-5", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for kind in (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_part.done",
        "response.content_part.added",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    ):
        assert kind in kinds
    assert kinds.count("response.output_item.done") == 3
    assert final.output_text == "Let me check."
    assert final.usage is not None
    assert final.usage.total_tokens == 55


def test_responses_incomplete_on_length(fake_upstream: FakeUpstream, oai: Any) -> None:
    fake_upstream.default = Reply.ok("cut", finish_reason="length")
    response = oai.responses.create(model="gpt-5", input="hi")
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


def test_codex_through_the_openai_sdk(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = THINK_AND_CALL
    with (
        openai.OpenAI(base_url=fake_upstream.codex_base_url, api_key=KEY, max_retries=0) as client,
        client.responses.create(
            model="gpt-5-codex",
            input="hi",
            instructions="You are Codex.",
            store=False,
            stream=True,
            include=["reasoning.encrypted_content"],
        ) as stream,
    ):
        events = list(stream)
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == ["reasoning", "message", "function_call"]
    assert done[0].encrypted_content == DEFAULT_SIGNATURE
    assert events[-1].type == "response.completed"
    assert events[-1].response.output == []  # the quirk gateways must rebuild from (§7.2)
    (record,) = fake_upstream.requests
    assert (record.dialect, record.key, record.stream) == ("codex", KEY, True)


def test_codex_refusals_use_detail_bodies(fake_upstream: FakeUpstream) -> None:
    url = f"{fake_upstream.codex_base_url}/responses"
    good = {"model": "m", "input": "hi", "instructions": "x", "store": False, "stream": True}
    cases = [
        ({"stream": False}, "Stream must be set to true"),
        ({"store": True}, "Store must be set to false"),
        ({"instructions": None}, "Instructions are not valid"),
        ({"max_output_tokens": 100}, "Unsupported parameter: max_output_tokens"),
    ]
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as client:
        for change, detail in cases:
            response = client.post(url, json={**good, **change})
            assert (response.status_code, response.json()) == (400, {"detail": detail})
        missing = {k: v for k, v in good.items() if k != "instructions"}
        assert client.post(url, json=missing).json() == {"detail": "Instructions are required"}
        fake_upstream.script(Reply.error(429, retry_after=120))
        limited = client.post(url, json=good)
    error = limited.json()["error"]
    assert (limited.status_code, error["type"], error["resets_in_seconds"]) == (
        429,
        "usage_limit_reached",
        120,
    )
    assert "retry-after" not in limited.headers
    assert [r.rejected for r in fake_upstream.requests[:-1]] == [d for _, d in cases] + [
        "Instructions are required"
    ]


# -- Anthropic -----------------------------------------------------------------------------------


def test_claude_message_blocks_and_usage(fake_upstream: FakeUpstream, claude: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    message = claude.messages.create(model="claude-test", max_tokens=2048, messages=HI)
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert (thinking.thinking, thinking.signature) == ("The user wants weather.", DEFAULT_SIGNATURE)
    assert text.text == "Let me check."
    assert (tool.name, tool.input) == ("get_weather", {"city": "Paris", "unit": "C"})
    assert tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (30, 10, 15)
    assert fake_upstream.requests[0].key == KEY


def test_claude_stream_accumulates(fake_upstream: FakeUpstream, claude: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    with claude.messages.stream(model="claude-x", max_tokens=2048, messages=HI) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "ping" not in kinds  # the SDK swallows pings; the raw test sees them
    assert final.content[0].signature == DEFAULT_SIGNATURE
    assert final.content[2].input == WEATHER.arguments
    assert (final.stop_reason, final.usage.output_tokens, final.usage.input_tokens) == (
        "tool_use",
        15,
        30,
    )


def test_claude_errors_are_typed_by_the_sdk(fake_upstream: FakeUpstream, claude: Any) -> None:
    fake_upstream.script(Reply.error(429, retry_after=7), Reply.error(529), Reply.echo_key(401))
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model="c", max_tokens=10, messages=HI)
    with pytest.raises(anthropic.OverloadedError):
        claude.messages.create(model="c", max_tokens=10, messages=HI)
    with pytest.raises(anthropic.AuthenticationError) as revoked:
        claude.messages.create(model="c", max_tokens=10, messages=HI)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert KEY in revoked.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        claude.messages.create(model="c", messages=HI, max_tokens=None)  # type: ignore[arg-type]


def test_claude_count_tokens_and_models(fake_upstream: FakeUpstream, claude: Any) -> None:
    counted = claude.messages.count_tokens(model="claude-x", messages=HI, system="Be brief.")
    (record,) = fake_upstream.requests
    assert counted.input_tokens == estimate_tokens(record.json)
    assert (record.endpoint, record.system) == ("count_tokens", "Be brief.")
    listed = claude.models.list()
    assert [m.id for m in listed.data] == fake_upstream.models


# -- Gemini --------------------------------------------------------------------------------------


def test_gemini_parts_signature_and_usage(fake_upstream: FakeUpstream, gemini: Any) -> None:
    fake_upstream.default = THINK_AND_CALL
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    thought, text, call = response.candidates[0].content.parts
    assert (thought.thought, thought.text) == (True, "The user wants weather.")
    assert text.text == "Let me check."
    assert (call.function_call.name, call.function_call.args) == ("get_weather", WEATHER.arguments)
    assert call.thought_signature == b"fake-thought-signature"
    assert response.candidates[0].finish_reason == "STOP"
    meta = response.usage_metadata
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.thoughts_token_count) == (
        40,
        9,
        6,
    )
    assert (meta.cached_content_token_count, meta.total_token_count) == (10, 55)
    record = fake_upstream.requests[0]
    assert (record.dialect, record.model, record.key) == ("gemini", "gemini-2.5-flash", KEY)


def test_gemini_stream_sse_chunks(fake_upstream: FakeUpstream, gemini: Any) -> None:
    fake_upstream.default = Reply.ok("one two three", thinking="hmm", usage=USAGE)
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-pro", contents="hi"))
    texts = [p.text for c in chunks for p in c.candidates[0].content.parts if not p.thought]
    assert "".join(texts) == "one two three"
    assert chunks[0].candidates[0].content.parts[0].thought is True
    assert [c.candidates[0].finish_reason for c in chunks][-1] == "STOP"
    assert chunks[-1].candidates[0].content.parts[-1].thought_signature == b"fake-thought-signature"
    assert chunks[-1].usage_metadata.total_token_count == 55
    assert fake_upstream.requests[0].stream


def test_gemini_count_tokens_and_embeddings(fake_upstream: FakeUpstream, gemini: Any) -> None:
    counted = gemini.models.count_tokens(model="gemini-2.5-flash", contents="hello there")
    embedded = gemini.models.embed_content(
        model="text-embedding-004",
        contents=["a", "b"],
        config=genai_types.EmbedContentConfig(output_dimensionality=4),
    )
    count_record, embed_record = fake_upstream.requests
    assert counted.total_tokens == estimate_tokens(count_record.json)
    assert [e.values for e in embedded.embeddings] == [
        embedding_vector("a", 4),
        embedding_vector("b", 4),
    ]
    assert embed_record.path.endswith(":batchEmbedContents")


def test_gemini_errors_are_typed_by_the_sdk(fake_upstream: FakeUpstream, gemini: Any) -> None:
    fake_upstream.script(Reply.error(429, retry_after=37), Reply.error(503), Reply.echo_key(400))
    with pytest.raises(genai_errors.ClientError) as limited:
        gemini.models.generate_content(model="g", contents="hi")
    with pytest.raises(genai_errors.ServerError) as overloaded:
        gemini.models.generate_content(model="g", contents="hi")
    with pytest.raises(genai_errors.ClientError) as bad_key:
        gemini.models.generate_content(model="g", contents="hi")
    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert limited.value.details["error"]["details"][0]["retryDelay"] == "37s"
    assert (overloaded.value.code, overloaded.value.status) == (503, "UNAVAILABLE")
    assert KEY in bad_key.value.message


def test_gemini_vertex_publisher_path(fake_upstream: FakeUpstream) -> None:
    http = genai_types.HttpOptions(base_url=fake_upstream.root_url, api_version="v1")
    with genai.Client(vertexai=True, api_key=KEY, http_options=http) as client:
        response = client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert response.text == f"hello from key {KEY[-6:]}"
    (record,) = fake_upstream.requests
    assert record.path == "/v1/publishers/google/models/gemini-2.5-pro:generateContent"
    assert (record.dialect, record.model, record.key) == ("gemini", "gemini-2.5-pro", KEY)
