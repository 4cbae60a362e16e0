"""OpenAI Chat codec, requests: decode to the exact canonical request, encode to the exact body,
refuse bad bodies by path, and a round trip through the dialect that loses nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.canonical import (
    DocumentPart,
    Message,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat import CODEC

DATA = Path(__file__).parent / "data" / "openai_chat"
ROUND_TRIPS = ["request_qwen_code.json", "request_multimodal.json", "request_options.json"]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text("utf-8"))
    return data


def canonical(value: dict[str, Any]) -> Request:
    return msgspec.convert(value, Request)


def user(*parts: Any) -> Message:
    return Message(role=Role.USER, parts=list(parts))


def test_the_codec_table_serves_this_codec() -> None:
    assert codec_for(Format.OPENAI_CHAT) is CODEC
    assert CODEC.format is Format.OPENAI_CHAT


@pytest.mark.parametrize("name", [*ROUND_TRIPS, "request_legacy.json"])
def test_decode_request_gives_the_exact_canonical_request(name: str) -> None:
    case = load(name)
    assert CODEC.decode_request(case["body"]) == canonical(case["canonical"])


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_a_body_survives_the_round_trip_unchanged(name: str) -> None:
    body = load(name)["body"]
    assert CODEC.encode_request(CODEC.decode_request(copy.deepcopy(body)), body["model"]) == body


def test_legacy_functions_are_encoded_as_tools() -> None:
    case = load("request_legacy.json")
    assert CODEC.encode_request(canonical(case["canonical"]), "gpt-3.5-turbo") == case["encoded"]


def test_encode_request_from_another_dialect_gives_the_exact_body() -> None:
    case = load("encode_foreign.json")
    assert CODEC.encode_request(canonical(case["canonical"]), case["model"]) == case["body"]


def test_the_upstream_model_name_replaces_the_clients() -> None:
    request = CODEC.decode_request(
        {"model": "alias", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert request == Request(model="alias", messages=[user(TextPart(text="hi"))])
    assert CODEC.encode_request(request, "gpt-4o") == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }


def test_system_messages_anywhere_are_hoisted_in_order() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "one"},
            {"role": "user", "content": "hi"},
            {
                "role": "system",
                "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}],
            },
            {"role": "assistant", "content": "hello"},
        ],
    }
    request = CODEC.decode_request(body)
    assert request.system == [TextPart(text="one"), TextPart(text="two")]
    assert [m.role for m in request.messages] == [Role.USER, Role.ASSISTANT]
    assert CODEC.encode_request(request, "m")["messages"][0] == {
        "role": "system",
        "content": "one\n\ntwo",
    }


def test_a_tool_message_with_a_following_user_message_stays_a_separate_turn() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"a": 1}}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": ""},
            {"role": "user", "content": "next"},
        ],
    }
    # `type` left out and arguments sent as an object: both accepted, arguments become JSON text.
    assert CODEC.decode_request(body).messages == [
        Message(role=Role.ASSISTANT, parts=[ToolCallPart(id="c1", name="f", arguments='{"a":1}')]),
        user(ToolResultPart(tool_call_id="c1", name="f")),
        user(TextPart(text="next")),
    ]


def body_with(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **fields}


def with_message(message: Any) -> dict[str, Any]:
    return body_with(messages=[message])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        (body_with(model=3), "model"),
        (body_with(model=" "), "model"),
        (body_with(messages=[]), "messages"),
        (body_with(messages="hi"), "messages"),
        (with_message({"role": "robot", "content": "hi"}), "messages[0].role"),
        (with_message({"role": "user", "content": 5}), "messages[0].content"),
        (with_message({"role": "user"}), "messages[0].content"),
        (
            with_message({"role": "user", "content": [{"type": "video"}]}),
            "messages[0].content[0].type",
        ),
        (
            with_message({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            with_message(
                {"role": "user", "content": [{"type": "file", "file": {"filename": "a"}}]}
            ),
            "messages[0].content[0].file",
        ),
        (with_message({"role": "tool", "content": "x"}), "messages[0].tool_call_id"),
        (
            with_message({"role": "assistant", "tool_calls": [{"id": "c", "type": "web"}]}),
            "messages[0].tool_calls[0].type",
        ),
        (body_with(stream="yes"), "stream"),
        (body_with(temperature="hot"), "temperature"),
        (body_with(stop=[1]), "stop[0]"),
        (body_with(tool_choice="sometimes"), "tool_choice"),
        (body_with(tool_choice={"type": "function"}), "tool_choice"),
        (
            body_with(
                tool_choice={
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "none", "tools": []},
                }
            ),
            "tool_choice.allowed_tools.mode",
        ),
        (body_with(tools=[{"type": "web_search"}]), "tools[0].type"),
        (body_with(response_format={"type": "xml"}), "response_format.type"),
        (body_with(response_format={"type": "json_schema"}), "response_format.json_schema"),
        (body_with(function_call="always"), "function_call"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        CODEC.decode_request(body)
    assert caught.value.param == param
    assert caught.value.message


def test_stop_may_be_one_string_and_reasoning_effort_is_kept() -> None:
    request = CODEC.decode_request(body_with(stop="###", reasoning_effort="max", max_tokens=9))
    assert request.stop == ["###"]
    assert request.reasoning == Reasoning(effort="max")
    assert request.max_tokens == 9
    assert request.extras == {}
    body = CODEC.encode_request(request, "up")
    # With reasoning asked for, the cap goes out under the name reasoning models accept.
    assert (body["stop"], body["reasoning_effort"]) == (["###"], "xhigh")
    assert (body["max_completion_tokens"], "max_tokens" in body) == (9, False)


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        (Reasoning(effort="low"), "low"),
        (Reasoning(effort="none"), "none"),
        (Reasoning(effort="max"), "xhigh"),
        (Reasoning(effort="auto"), None),
        (Reasoning(budget=-1), None),
        (Reasoning(budget=0), "none"),
        (Reasoning(budget=512), "minimal"),
        (Reasoning(budget=600), "low"),
        (Reasoning(budget=8192), "medium"),
        (Reasoning(budget=20000), "high"),
        (Reasoning(budget=100000), "xhigh"),
        (Reasoning(effort="medium", budget=100000), "medium"),
        (Reasoning(summary="auto"), None),
    ],
)
def test_reasoning_becomes_the_nearest_effort_level(
    reasoning: Reasoning, effort: str | None
) -> None:
    body = CODEC.encode_request(Request(model="m", reasoning=reasoning), "m")
    assert body.get("reasoning_effort") == effort


def test_streams_always_ask_for_usage_and_keep_other_stream_options() -> None:
    request = CODEC.decode_request(
        body_with(stream=True, stream_options={"include_obfuscation": False})
    )
    assert request.stream is True
    assert request.include_usage is False
    assert CODEC.encode_request(request, "m")["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }
    request.stream = False  # the relay decides; a non-stream call sends no stream_options
    assert "stream_options" not in CODEC.encode_request(request, "m")


def test_tool_options_are_sent_only_with_tools() -> None:
    request = Request(
        model="m", tool_choice=ToolChoice(mode="none"), parallel_tool_calls=True, max_tokens=5
    )
    assert CODEC.encode_request(request, "m") == {
        "model": "m",
        "messages": [],
        "max_tokens": 5,
        "stream": False,
    }


def test_a_named_custom_tool_is_chosen_as_custom() -> None:
    body = body_with(
        tools=[{"type": "custom", "custom": {"name": "grep"}}],
        tool_choice={"type": "custom", "custom": {"name": "grep"}},
    )
    request = CODEC.decode_request(body)
    assert request.tool_choice == ToolChoice(mode="tool", name="grep")
    assert CODEC.encode_request(request, "gpt-4o") == {**body, "stream": False}


def test_documents_and_audio_are_written_as_file_and_input_audio_parts() -> None:
    request = Request(
        model="m",
        messages=[
            user(
                DocumentPart(media_type="application/pdf", data="JVBE", filename="a.pdf"),
                DocumentPart(data="JVBE"),
                DocumentPart(media_type="audio/mpeg", data="SUQz"),
                DocumentPart(file_id="file-1"),
            )
        ],
    )
    assert CODEC.encode_request(request, "m")["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                },
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
                {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        }
    ]


def test_a_bare_base64_file_keeps_its_form_and_guesses_its_type_for_others() -> None:
    part = {"type": "file", "file": {"file_data": "JVBERi0x", "filename": "Spec.PDF"}}
    request = CODEC.decode_request(with_message({"role": "user", "content": [part]}))
    assert request.messages[0].parts == [
        DocumentPart(
            media_type="application/pdf",
            data="JVBERi0x",
            filename="Spec.PDF",
            extras={"openai": {"_chat": {"bare": True}}},
        )
    ]
    assert CODEC.encode_request(request, "m")["messages"][0]["content"] == [part]


def test_a_document_by_url_cannot_be_sent_to_chat() -> None:
    request = Request(model="m", messages=[user(DocumentPart(url="https://x/a.pdf"))])
    with pytest.raises(TranslationError, match="not by URL"):
        CODEC.encode_request(request, "m")


def test_assistant_turns_join_text_and_keep_only_chat_reasoning() -> None:
    assistant = Message(
        role=Role.ASSISTANT,
        parts=[
            ThinkingPart(text="mine ", signature_source="openai"),
            ThinkingPart(text="theirs", signature="s", signature_source="claude"),
            ThinkingPart(
                text="too",
                signature_source="openai",
                extras={"openai": {"_chat": {"field": "reasoning"}}},
            ),
            TextPart(text="Hello "),
            TextPart(text="world"),
            ToolCallPart(id="", name="f"),
        ],
    )
    empty = Message(role=Role.ASSISTANT)
    messages = CODEC.encode_request(Request(model="m", messages=[assistant, empty]), "m")[
        "messages"
    ]
    assert messages == [
        {
            "role": "assistant",
            "content": "Hello world",
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
            "reasoning": "mine too",
        },
        {"role": "assistant", "content": ""},
    ]


def test_openrouter_reasoning_field_is_read_as_thinking_and_written_back() -> None:
    message = {"role": "assistant", "content": "hi", "reasoning": "because"}
    request = CODEC.decode_request(body_with(messages=[message]))
    assert request.messages[0].parts[0] == ThinkingPart(
        text="because",
        signature_source="openai",
        extras={"openai": {"_chat": {"field": "reasoning"}}},
    )
    assert CODEC.encode_request(request, "m")["messages"] == [message]


def test_a_json_schema_without_a_name_gets_one() -> None:
    request = Request(
        model="m", response_format=ResponseFormat(type="json_schema", schema={"type": "object"})
    )
    assert CODEC.encode_request(request, "m")["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    request.response_format = ResponseFormat(type="json_object")
    assert CODEC.encode_request(request, "m")["response_format"] == {"type": "json_object"}


def test_allowed_tools_fall_back_to_the_plain_form_when_the_tools_changed() -> None:
    request = canonical(load("request_options.json")["canonical"])
    request.tools = [Tool(name="shell")]
    body = CODEC.encode_request(request, "m")
    assert body["tools"] == [{"type": "function", "function": {"name": "shell"}}]
    assert body["tool_choice"] == "required"


def test_a_tool_result_takes_its_name_from_the_call_or_else_from_itself() -> None:
    body = body_with(
        messages=[
            {"role": "tool", "tool_call_id": "unknown", "name": "lookup", "content": "1"},
            {"role": "tool", "tool_call_id": "other", "content": "2"},
        ]
    )
    request = CODEC.decode_request(body)
    assert request.messages == [
        user(
            ToolResultPart(
                tool_call_id="unknown",
                name="lookup",
                content=[TextPart(text="1")],
                extras={"openai": {"name": "lookup"}},
            ),
            ToolResultPart(tool_call_id="other", content=[TextPart(text="2")]),
        )
    ]
    assert CODEC.encode_request(request, "gpt-4o") == {**body, "stream": False}


def test_a_system_message_between_tool_messages_keeps_them_in_one_turn() -> None:
    body = body_with(
        messages=[
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "system", "content": "Be brief."},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
        ]
    )
    request = CODEC.decode_request(body)
    assert request.system == [TextPart(text="Be brief.")]
    assert [
        [p.tool_call_id for p in m.parts if isinstance(p, ToolResultPart)] for m in request.messages
    ] == [["a", "b"]]
