"""What the gateway writes for Chat clients, read back by the official OpenAI SDK's own types."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from aiproxyapi.canonical import Event, Request, Response
from aiproxyapi.formats.openai_chat import CODEC
from aiproxyapi.formats.sse import SSEDecoder

DATA = Path(__file__).parent / "data" / "openai_chat"


def test_the_sdk_reads_an_answer_translated_from_another_dialect() -> None:
    case = json.loads((DATA / "response_foreign.json").read_text("utf-8"))
    body = CODEC.encode_response(msgspec.convert(case["canonical"], Response), "gw")
    completion = ChatCompletion.model_validate(body)
    assert completion.choices[0].finish_reason == "tool_calls"
    [call] = completion.choices[0].message.tool_calls or []
    assert (call.id, call.type) == ("toolu_01A", "function")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 1000


def test_the_sdk_accumulates_an_encoded_stream_into_the_whole_answer() -> None:
    expected = json.loads((DATA / "stream_decode.json").read_text("utf-8"))
    events = msgspec.convert(expected["stream_parallel_tools.sse"], list[Event])
    encoder = CODEC.stream_encoder(Request(model="gw", include_usage=True), "gw")
    raw = b"".join(encoder.feed(event) for event in events)
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    frames = SSEDecoder().feed(raw)
    assert frames[-1].data == b"[DONE]"
    for frame in frames[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(frame.data))
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []]
    assert calls == [
        ("call_1", "get_weather", '{"city":"Paris"}'),
        ("call_2", "get_time", '{"tz":"CET"}'),
    ]
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (82, 17)
