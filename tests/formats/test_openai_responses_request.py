"""OpenAI Responses codec, requests: decode to the exact canonical request, encode to the exact
body, and a round trip through the dialect that loses nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.canonical import (
    Message,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
)
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_responses import CODEC, effort_for, portability_error

DATA = Path(__file__).parent / "data" / "openai_responses"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text("utf-8"))
    return data


def canonical(value: dict[str, Any]) -> Request:
    return msgspec.convert(value, Request)


def test_the_codec_table_serves_this_codec() -> None:
    assert codec_for(Format.OPENAI_RESPONSES) is CODEC
    assert CODEC.format is Format.OPENAI_RESPONSES


@pytest.mark.parametrize("name", ["request_codex.json", "request_sdk.json"])
def test_decode_request_gives_the_exact_canonical_request(name: str) -> None:
    case = load(name)
    assert CODEC.decode_request(case["body"]) == canonical(case["canonical"])


def test_a_codex_body_survives_the_round_trip_unchanged() -> None:
    body = load("request_codex.json")["body"]
    assert CODEC.encode_request(CODEC.decode_request(body), "gpt-5.1-codex") == body


def test_an_sdk_body_round_trips_with_only_the_shorthands_spelled_out() -> None:
    # Easy messages come back typed and empty annotation lists are dropped; nothing is lost.
    case = load("request_sdk.json")
    assert CODEC.encode_request(CODEC.decode_request(case["body"]), "gpt-5") == case["round_trip"]


def test_encode_request_from_another_dialect_gives_the_exact_body() -> None:
    case = load("encode_foreign.json")
    assert CODEC.encode_request(canonical(case["canonical"]), case["model"]) == case["body"]


def test_the_upstream_model_name_replaces_the_clients() -> None:
    request = CODEC.decode_request({"model": "my-alias", "input": "hi"})
    assert CODEC.encode_request(request, "gpt-5")["model"] == "gpt-5"


def test_a_string_input_is_one_user_turn() -> None:
    request = CODEC.decode_request({"model": "gpt-5", "input": "Hello"})
    assert request == Request(
        model="gpt-5", messages=[Message(role=Role.USER, parts=[TextPart(text="Hello")])]
    )
    assert CODEC.encode_request(request, "gpt-5") == {
        "model": "gpt-5",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello"}],
            }
        ],
        "stream": False,
    }


def test_consecutive_assistant_messages_stay_separate_items() -> None:
    body = {
        "model": "gpt-5",
        "input": [
            {"role": "assistant", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""},
        ],
    }
    request = CODEC.decode_request(body)
    assert request.messages == [
        Message(
            role=Role.ASSISTANT,
            parts=[
                TextPart(text="one"),
                TextPart(text="two", extras={"openai-responses": {"item": {}}}),
                ToolCallPart(id="c1", name="f", arguments="{}"),
            ],
        )
    ]
    assert CODEC.encode_request(request, "gpt-5")["input"] == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "one"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "two"}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]


def test_items_after_the_last_turn_are_kept_in_place() -> None:
    body = {
        "model": "gpt-5",
        "input": [
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "input_text", "text": "Be kind."}]},
            {
                "type": "local_shell_call",
                "call_id": "s1",
                "action": {"type": "exec", "command": ["ls"]},
            },
        ],
    }
    request = CODEC.decode_request(body)
    assert request.system == [
        TextPart(text="Be kind.", extras={"openai-responses": {"hoisted": True}})
    ]
    assert request.extras["openai-responses"]["input_tail"] == body["input"][1:]
    encoded = CODEC.encode_request(request, "gpt-5")
    assert "instructions" not in encoded  # the hoisted text is already in the input
    assert encoded["input"][1:] == body["input"][1:]


def test_empty_turns_are_kept_for_responses_but_shown_to_no_other_dialect() -> None:
    body = {
        "model": "gpt-5",
        "input": [
            {"role": "user", "content": []},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "hi"},
        ],
    }
    request = CODEC.decode_request(body)
    assert request.messages == [
        Message(
            role=Role.USER,
            parts=[TextPart(text="hi")],
            extras={"openai-responses": {"before": body["input"][:2]}},
        )
    ]
    assert CODEC.encode_request(request, "gpt-5")["input"][:2] == body["input"][:2]


def test_empty_instructions_are_kept_for_upstreams_that_require_the_field() -> None:
    request = CODEC.decode_request({"model": "gpt-5", "instructions": "", "input": "hi"})
    assert request.system == []
    assert CODEC.encode_request(request, "gpt-5")["instructions"] == ""


@pytest.mark.parametrize(
    ("choice", "expected", "forced"),
    [
        ("none", ToolChoice(mode="none"), None),
        ("required", ToolChoice(mode="required"), None),
        ({"type": "function", "name": "f"}, ToolChoice(mode="tool", name="f"), None),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]},
            ToolChoice(mode="auto"),
            None,
        ),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "f"}],
            },
            ToolChoice(mode="tool", name="f"),
            None,
        ),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]},
            ToolChoice(mode="required"),
            "web_search",
        ),
        (
            {"type": "custom", "name": "apply_patch"},
            ToolChoice(mode="tool", name="apply_patch"),
            "apply_patch",
        ),
        (
            {"type": "web_search_preview"},
            ToolChoice(mode="tool", name="web_search_preview"),
            "web_search_preview",
        ),
        (
            {"type": "mcp", "server_label": "deepwiki"},
            ToolChoice(mode="tool", name="deepwiki"),
            "deepwiki",
        ),
    ],
)
def test_tool_choice_decodes_and_returns_as_it_came(
    choice: Any, expected: ToolChoice, forced: str | None
) -> None:
    body = {"model": "gpt-5", "input": "hi", "tool_choice": choice}
    request = CODEC.decode_request(body)
    assert request.tool_choice == expected
    assert request.extras.get("openai-responses", {}).get("forced") == forced
    assert CODEC.encode_request(request, "gpt-5")["tool_choice"] == choice
    error = portability_error(request)
    assert (error is not None) == (forced is not None)
    if error is not None:
        assert error.param == "tool_choice"
        assert forced in error.message


@pytest.mark.parametrize("field", ["previous_response_id", "conversation"])
def test_server_state_cannot_cross_to_another_dialect(field: str) -> None:
    request = CODEC.decode_request({"model": "gpt-5", "input": "hi", field: "resp_1"})
    error = portability_error(request)
    assert error is not None
    assert error.param == field
    assert CODEC.encode_request(request, "gpt-5")[field] == "resp_1"  # Responses keeps it


def test_a_plain_request_is_portable() -> None:
    body = load("request_codex.json")["body"]
    assert portability_error(CODEC.decode_request(body)) is None


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        (Reasoning(effort="high"), "high"),
        (Reasoning(effort="max"), "xhigh"),
        (Reasoning(effort="auto"), "medium"),
        (Reasoning(effort="none"), "none"),
        (Reasoning(effort="minimal"), "minimal"),
        (Reasoning(budget=512), "minimal"),
        (Reasoning(budget=1024), "low"),
        (Reasoning(budget=8192), "medium"),
        (Reasoning(budget=24576), "high"),
        (Reasoning(budget=100000), "xhigh"),
        (Reasoning(budget=0), "none"),
        (Reasoning(budget=-1), "medium"),
        (Reasoning(effort="low", budget=30000), "low"),
        (Reasoning(), ""),
    ],
)
def test_reasoning_levels_and_budgets_map_to_responses_efforts(
    reasoning: Reasoning, effort: str
) -> None:
    assert effort_for(reasoning) == effort


def test_a_thinking_suffix_keeps_the_clients_summary_wish() -> None:
    request = CODEC.decode_request(
        {"model": "gpt-5", "input": "hi", "reasoning": {"effort": "low", "summary": "detailed"}}
    )
    request.reasoning = Reasoning(effort="high", budget=24576)  # what a `(high)` suffix does
    assert CODEC.encode_request(request, "gpt-5")["reasoning"] == {
        "effort": "high",
        "summary": "detailed",
    }


def test_response_formats_encode_as_text_format() -> None:
    request = Request(
        model="m", response_format=ResponseFormat(type="json_schema", schema={"type": "object"})
    )
    assert CODEC.encode_request(request, "m")["text"] == {
        "format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}}
    }
    request = Request(model="m", response_format=ResponseFormat(type="json_object"))
    assert CODEC.encode_request(request, "m")["text"] == {"format": {"type": "json_object"}}


def test_reasoning_without_a_way_back_is_not_replayed() -> None:
    # A summary with neither encrypted content nor a stored id would only earn a 400.
    request = Request(
        model="m",
        messages=[
            Message(
                role=Role.ASSISTANT,
                parts=[
                    ThinkingPart(text="lost id", signature_source="openai-responses"),
                    ThinkingPart(text="gemini", signature="sig", signature_source="gemini"),
                    TextPart(text="ok"),
                ],
            )
        ],
    )
    assert CODEC.encode_request(request, "m")["input"] == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    ]


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"input": "hi"}, "model", "`model`"),
        ({"model": "", "input": "hi"}, "model", "`model`"),
        ({"model": "m", "input": 3}, "input", "`input`"),
        ({"model": "m", "input": ["hi"]}, "input[0]", "object"),
        ({"model": "m", "input": [{"content": "hi"}]}, "input[0]", "`type` or a `role`"),
        ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role", "'tool'"),
        (
            {"model": "m", "input": [{"role": "user", "content": 5}]},
            "input[0].content",
            "`content`",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
            "'input_audio'",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0]",
            "`image_url` or a `file_id`",
        ),
        (
            {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
            "`call_id`",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c", "output": 1}],
            },
            "input[0]",
            "`output`",
        ),
        ({"model": "m", "instructions": ["x"]}, "instructions", "`instructions`"),
        ({"model": "m", "tools": {"type": "function"}}, "tools", "`tools`"),
        ({"model": "m", "tools": [{"type": "function"}]}, "tools[0].name", "`name`"),
        ({"model": "m", "tool_choice": "sometimes"}, "tool_choice", "`tool_choice`"),
        ({"model": "m", "max_output_tokens": "10"}, "max_output_tokens", "integer"),
        ({"model": "m", "temperature": True}, "temperature", "number"),
        ({"model": "m", "stream": "yes"}, "stream", "boolean"),
        ({"model": "m", "text": {"format": {"type": "xml"}}}, "text.format.type", "not supported"),
    ],
)
def test_decode_request_names_the_bad_field(body: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(TranslationError) as caught:
        CODEC.decode_request(body)
    assert caught.value.param == param
    assert says in caught.value.message
