"""Gemini codec, requests: exact canonical requests from real bodies, exact bodies from canonical
requests, and round trips through the dialect that lose nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiproxyapi.canonical import (
    ImagePart,
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
from aiproxyapi.formats.gemini import CODEC, decode_request_for
from tests.formats.gemini_cases import check_request_body, load, request

USER_HI = {"role": "user", "parts": [{"text": "hi"}]}


def test_the_codec_table_serves_this_codec() -> None:
    assert codec_for(Format.GEMINI) is CODEC
    assert CODEC.format is Format.GEMINI


def test_the_reference_example_decodes_to_the_exact_canonical_request() -> None:
    case = load("request_spec.json")
    assert CODEC.decode_request(case["body"]) == Request(
        model="",
        messages=[
            Message(
                role=Role.USER,
                parts=[
                    TextPart(text="Weather in Paris?"),
                    ImagePart(media_type="image/png", data="iVBORw0KGgo="),
                ],
            ),
            Message(
                role=Role.ASSISTANT,
                parts=[
                    ToolCallPart(
                        id="call_get_weather_1",
                        name="get_weather",
                        arguments='{"city":"Paris"}',
                        signature="c2lnLWNhbGw=",
                        signature_source="gemini",
                    )
                ],
            ),
            Message(
                role=Role.USER,
                parts=[
                    ToolResultPart(
                        tool_call_id="call_get_weather_1",
                        name="get_weather",
                        content=[TextPart(text="22C sunny")],
                    )
                ],
            ),
        ],
        system=[TextPart(text="Be brief.")],
        tools=[
            Tool(
                name="get_weather",
                description="Current weather",
                parameters={
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
                extras={
                    "gemini": {
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                            "required": ["city"],
                        }
                    }
                },
            )
        ],
        tool_choice=ToolChoice(mode="auto"),
        max_tokens=2048,
        temperature=0.7,
        top_p=0.95,
        top_k=40,
        stop=["END"],
        seed=7,
        reasoning=Reasoning(budget=1024, include_thoughts=True),
        response_format=ResponseFormat(
            type="json_schema",
            schema={"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        extras={
            "gemini": {
                "safetySettings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}
                ],
                "cachedContent": "cachedContents/abc123",
                "tools": [{"googleSearch": {}}],
                "toolConfig": {
                    "functionCallingConfig": {
                        "mode": "AUTO",
                        "allowedFunctionNames": ["get_weather"],
                    }
                },
                "generationConfig": {
                    "candidateCount": 1,
                    "presencePenalty": 0,
                    "frequencyPenalty": 0,
                },
            }
        },
    )


@pytest.mark.parametrize("name", ["request_cli.json", "request_snake.json"])
def test_client_bodies_decode_to_the_exact_canonical_request(name: str) -> None:
    case = load(name)
    assert CODEC.decode_request(case["body"]) == request(case["canonical"])


def test_the_reference_example_survives_the_round_trip_unchanged() -> None:
    case = load("request_spec.json")
    body = case["body"]
    encoded = CODEC.encode_request(CODEC.decode_request(copy.deepcopy(body)), case["model"])
    assert encoded == body
    check_request_body(encoded)


def test_a_gemini_cli_body_round_trips_with_only_the_ignored_system_role_gone() -> None:
    case = load("request_cli.json")
    expected = copy.deepcopy(case["body"])
    del expected["systemInstruction"]["role"]
    encoded = CODEC.encode_request(CODEC.decode_request(case["body"]), case["model"])
    assert encoded == expected == case["round_trip"]
    check_request_body(encoded)


def test_a_snake_case_body_round_trips_spelled_in_camel_case() -> None:
    # Known fields come back camelCase (Gemini reads both); unknown ones keep their spelling.
    case = load("request_snake.json")
    encoded = CODEC.encode_request(CODEC.decode_request(case["body"]), case["model"])
    assert encoded == case["round_trip"]
    assert encoded["safety_settings"] == case["body"]["safety_settings"]
    assert encoded["contents"][0]["parts"][2]["video_metadata"] == {"fps": 1}


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-2.5-flash"])
def test_a_request_from_another_dialect_encodes_to_the_exact_body(model: str) -> None:
    case = load("encode_foreign.json")
    encoded = CODEC.encode_request(request(case["canonical"]), model)
    assert encoded == case["bodies"][model]
    assert "model" not in encoded
    check_request_body(encoded)


def test_the_model_comes_from_the_url_or_an_injected_key() -> None:
    body = {"contents": [USER_HI]}
    assert CODEC.decode_request({**body, "model": "models/gemini-2.5-pro"}).model == (
        "gemini-2.5-pro"
    )
    decoded = decode_request_for(body, "gemini-2.5-flash", stream=True)
    assert (decoded.model, decoded.stream) == ("gemini-2.5-flash", True)
    assert CODEC.encode_request(decoded, "gemini-2.5-flash") == {"contents": [USER_HI]}


def test_responses_find_their_calls_by_id_else_by_name_in_order() -> None:
    body = {
        "contents": [
            USER_HI,
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "read", "args": {"p": "a"}}},
                    {"functionCall": {"name": "read", "args": {"p": "b"}}},
                    {"functionCall": {"name": "ls", "args": {}, "id": "own-id"}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "ls", "id": "own-id", "response": {}}},
                    {"functionResponse": {"name": "read", "response": {"result": "A"}}},
                    {
                        "functionResponse": {
                            "name": "read",
                            "id": "x-9",
                            "response": {"result": "B"},
                        }
                    },
                    {"functionResponse": {"name": "grep", "response": {"result": "?"}}},
                ],
            },
        ]
    }
    decoded = CODEC.decode_request(body)
    calls = [p.id for p in decoded.messages[1].parts if isinstance(p, ToolCallPart)]
    answers = [p.tool_call_id for p in decoded.messages[2].parts if isinstance(p, ToolResultPart)]
    assert calls == ["call_read_1", "call_read_2", "own-id"]
    # A response to no earlier call (a trimmed history) still gets an id of its own.
    assert answers == ["own-id", "call_read_1", "call_read_2", "call_grep_4"]
    assert CODEC.encode_request(decoded, "gemini-2.5-pro") == body


@pytest.mark.parametrize(
    ("reasoning", "model", "config"),
    [
        (Reasoning(budget=2048), "gemini-2.5-pro", {"thinkingBudget": 2048, "includeThoughts": True}),
        (Reasoning(effort="low"), "gemini-2.5-flash", {"thinkingBudget": 1024, "includeThoughts": True}),
        (Reasoning(effort="auto"), "gemini-2.5-flash", {"thinkingBudget": -1, "includeThoughts": True}),
        (Reasoning(effort="low", budget=1024), "gemini-3-flash-preview", {"thinkingLevel": "LOW", "includeThoughts": True}),
        (Reasoning(effort="medium"), "gemini-3-flash-preview", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        (Reasoning(effort="medium"), "gemini-3-pro-preview", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        (Reasoning(effort="minimal"), "gemini-3-pro-preview", {"thinkingLevel": "LOW", "includeThoughts": True}),
        (Reasoning(effort="xhigh"), "gemini-3-flash-preview", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        (Reasoning(effort="auto"), "gemini-3-pro-preview", {"includeThoughts": True}),
        (Reasoning(budget=4096), "gemini-3-pro-preview", {"thinkingBudget": 4096, "includeThoughts": True}),
        (Reasoning(effort="none"), "gemini-3-flash-preview", {"thinkingBudget": 0}),
        (Reasoning(budget=0), "gemini-2.5-flash", {"thinkingBudget": 0}),
        (Reasoning(effort="high", include_thoughts=False), "gemini-2.5-pro", {"thinkingBudget": 24576}),
        (Reasoning(include_thoughts=True), "gemini-2.5-pro", {"includeThoughts": True}),
        (Reasoning(include_thoughts=False), "gemini-2.5-pro", None),
    ],
)  # fmt: skip
def test_thinking_becomes_a_level_on_gemini_3_and_a_budget_before(
    reasoning: Reasoning, model: str, config: dict[str, Any] | None
) -> None:
    encoded = CODEC.encode_request(
        Request(model="m", messages=[Message(role=Role.USER, parts=[TextPart(text="hi")])],
                reasoning=reasoning),
        model,
    )  # fmt: skip
    assert encoded.get("generationConfig", {}).get("thinkingConfig") == config


@pytest.mark.parametrize(
    ("calling", "choice", "kept"),
    [
        ({"mode": "AUTO"}, ToolChoice(mode="auto"), None),
        ({"mode": "NONE"}, ToolChoice(mode="none"), None),
        ({"mode": "ANY"}, ToolChoice(mode="required"), None),
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, ToolChoice(mode="tool", name="f"), None),
        (
            {"mode": "ANY", "allowedFunctionNames": ["f", "g"]},
            ToolChoice(mode="required"),
            {"mode": "ANY", "allowedFunctionNames": ["f", "g"]},
        ),
        ({"mode": "VALIDATED"}, ToolChoice(mode="auto"), {"mode": "VALIDATED"}),
    ],
)
def test_function_calling_modes_map_to_tool_choice_and_back(
    calling: dict[str, Any], choice: ToolChoice, kept: dict[str, Any] | None
) -> None:
    body = {
        "contents": [USER_HI],
        "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}],
        "toolConfig": {"functionCallingConfig": calling},
    }
    decoded = CODEC.decode_request(body)
    assert decoded.tool_choice == choice
    assert (
        decoded.extras.get("gemini", {}).get("toolConfig", {}).get("functionCallingConfig") == kept
    )
    assert CODEC.encode_request(decoded, "gemini-2.5-pro") == body


@pytest.mark.parametrize(
    ("choice", "calling"),
    [
        (ToolChoice(mode="auto"), {"mode": "AUTO"}),
        (ToolChoice(mode="none"), {"mode": "NONE"}),
        (ToolChoice(mode="required"), {"mode": "ANY"}),
        (ToolChoice(mode="tool", name="my tool"), {"mode": "ANY", "allowedFunctionNames": ["my_tool"]}),
    ],
)  # fmt: skip
def test_tool_choice_from_another_dialect(choice: ToolChoice, calling: dict[str, Any]) -> None:
    canonical = Request(
        model="m",
        messages=[Message(role=Role.USER, parts=[TextPart(text="hi")])],
        tools=[Tool(name="my tool", parameters={"type": "object", "properties": {}})],
        tool_choice=choice,
    )
    encoded = CODEC.encode_request(canonical, "gemini-2.5-pro")
    assert encoded["toolConfig"] == {"functionCallingConfig": calling}
    assert encoded["tools"] == [
        {
            "functionDeclarations": [
                {"name": "my_tool", "parametersJsonSchema": {"type": "object", "properties": {}}}
            ]
        }
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"role": "user", "parts": "hi"}]}, "contents[0].parts"),
        ({"contents": [{"role": "user", "parts": ["hi"]}]}, "contents[0].parts[0]"),
        ({"contents": [{"parts": [{"text": 3}]}]}, "contents[0].parts[0].text"),
        (
            {"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]},
            "contents[0].parts[0].functionCall",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]},
            "contents[0].parts[0].functionCall.name",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]}]},
            "contents[0].parts[0].functionCall.args",
        ),
        (
            {"contents": [{"parts": [{"functionResponse": {"name": "f", "response": "ok"}}]}]},
            "contents[0].parts[0].functionResponse.response",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"functionResponse": {"name": "f"}}]}]},
            "contents[0].parts[0].functionResponse",
        ),
        ({"contents": [USER_HI], "systemInstruction": {"parts": [{"inlineData": {}}]}}, "systemInstruction.parts[0]"),
        ({"contents": [USER_HI], "tools": [{"functionDeclarations": [{"description": "x"}]}]}, "tools[0].functionDeclarations[0].name"),
        ({"contents": [USER_HI], "tools": {"functionDeclarations": []}}, "tools"),
        ({"contents": [USER_HI], "generationConfig": {"temperature": "hot"}}, "generationConfig.temperature"),
        ({"contents": [USER_HI], "generationConfig": {"maxOutputTokens": 1.5}}, "generationConfig.maxOutputTokens"),
        ({"contents": [USER_HI], "generationConfig": {"stopSequences": [1]}}, "generationConfig.stopSequences"),
        ({"contents": [USER_HI], "generationConfig": {"thinkingConfig": {"thinkingBudget": "lots"}}}, "generationConfig.thinkingConfig.thinkingBudget"),
        ({"contents": [USER_HI], "generationConfig": []}, "generationConfig"),
    ],
)  # fmt: skip
def test_unusable_bodies_name_the_offending_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        CODEC.decode_request(body)
    assert caught.value.param == param


@pytest.mark.parametrize(
    "system",
    ["Be brief.", {"parts": [{"text": "Be brief."}]}, [{"text": "Be brief."}], {"role": "user", "parts": [{"text": "Be brief."}, {"text": ""}]}],
)  # fmt: skip
def test_system_instruction_in_every_shape_clients_send(system: Any) -> None:
    decoded = CODEC.decode_request({"contents": [USER_HI], "systemInstruction": system})
    assert decoded.system == [TextPart(text="Be brief.")]


def test_turns_merge_and_a_trailing_model_turn_is_dropped() -> None:
    canonical = Request(
        model="m",
        messages=[
            Message(role=Role.USER, parts=[TextPart(text="a")]),
            Message(role=Role.USER, parts=[TextPart(text="b"), TextPart(text="")]),
            Message(role=Role.ASSISTANT, parts=[TextPart(text="c")]),
            Message(role=Role.ASSISTANT, parts=[TextPart(text="d")]),
            Message(role=Role.USER, parts=[TextPart(text="e")]),
            Message(role=Role.ASSISTANT, parts=[TextPart(text="prefill")]),
        ],
    )
    assert CODEC.encode_request(canonical, "gemini-2.5-pro")["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "parts": [{"text": "e"}]},
    ]


def _history(*parts: Any) -> Request:
    return Request(
        model="m",
        messages=[
            Message(role=Role.USER, parts=[TextPart(text="go")]),
            Message(role=Role.ASSISTANT, parts=list(parts)),
            Message(
                role=Role.USER,
                parts=[ToolResultPart(tool_call_id="c1", content=[TextPart(text="ok")])],
            ),
        ],
    )


def test_signatures_go_only_to_gemini_and_gemini_3_gets_the_placeholder() -> None:
    foreign = _history(
        ThinkingPart(text="why", signature="EqQB", signature_source="claude"),
        ToolCallPart(id="c1", name="f", arguments='{"a": 1}'),
    )
    ours = _history(
        ThinkingPart(text="why", signature="c2ln", signature_source="gemini"),
        ToolCallPart(id="c1", name="f", signature="c2lnLWY=", signature_source="gemini"),
    )
    assert CODEC.encode_request(foreign, "gemini-2.5-pro")["contents"][1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}],
    }
    assert CODEC.encode_request(foreign, "gemini-3-pro-preview")["contents"][1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "f", "args": {"a": 1}},
                "thoughtSignature": "skip_thought_signature_validator",
            }
        ],
    }
    assert CODEC.encode_request(ours, "gemini-3-pro-preview")["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "why", "thought": True, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnLWY="},
        ],
    }


def test_a_tool_result_takes_its_name_from_its_call_or_its_own_field() -> None:
    canonical = Request(
        model="m",
        messages=[
            Message(
                role=Role.USER,
                parts=[
                    ToolResultPart(tool_call_id="x", name="lookup", content=[TextPart(text="1")])
                ],
            )
        ],
    )
    assert CODEC.encode_request(canonical, "gemini-2.5-pro")["contents"] == [
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "1"}}}],
        }
    ]
    canonical.messages[0].parts = [ToolResultPart(tool_call_id="x")]
    with pytest.raises(TranslationError) as caught:
        CODEC.encode_request(canonical, "gemini-2.5-pro")
    assert caught.value.param == "messages[0].parts[0]"


def test_parts_the_hub_cannot_model_come_back_to_gemini_verbatim() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    result = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}
    future = {"toolCall": {"id": "t1", "toolType": "GOOGLE_SEARCH"}}
    body = {"contents": [USER_HI, {"role": "model", "parts": [code, result, future]}, USER_HI]}
    decoded = CODEC.decode_request(body)
    assert decoded.messages[1].parts == [
        TextPart(text="```python\nprint(1)\n```", extras={"gemini": {"part": code}}),
        TextPart(text="```\n1\n\n```", extras={"gemini": {"part": result}}),
        ThinkingPart(signature_source="gemini", extras={"gemini": {"part": future}}),
    ]
    assert CODEC.encode_request(decoded, "gemini-2.5-pro") == body


def test_non_json_response_types_stay_with_gemini() -> None:
    enum_config = {
        "responseMimeType": "text/x.enum",
        "responseSchema": {"type": "STRING", "enum": ["yes", "no"]},
    }
    body = {"contents": [USER_HI], "generationConfig": enum_config}
    decoded = CODEC.decode_request(body)
    assert decoded.response_format is None
    assert CODEC.encode_request(decoded, "gemini-2.5-pro") == body
    plain = CODEC.decode_request(
        {"contents": [USER_HI], "generationConfig": {"responseMimeType": "application/json"}}
    )
    assert plain.response_format == ResponseFormat(type="json_object")


def test_files_of_other_providers_are_refused_and_gemini_files_pass() -> None:
    from aiproxyapi.canonical import DocumentPart

    def body_for(part: DocumentPart) -> dict[str, Any]:
        canonical = Request(model="m", messages=[Message(role=Role.USER, parts=[part])])
        return CODEC.encode_request(canonical, "gemini-2.5-pro")

    assert body_for(DocumentPart(file_id="files/abc"))["contents"][0]["parts"] == [
        {
            "fileData": {
                "mimeType": "application/pdf",
                "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
            }
        }
    ]
    with pytest.raises(TranslationError) as caught:
        body_for(DocumentPart(file_id="file-9xYz"))
    assert caught.value.param == "messages[0].parts[0]"


def test_media_nested_in_a_function_response_reach_other_dialects_and_come_back_nested() -> None:
    nested = [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "files/report"}},
    ]
    body = {
        "contents": [
            USER_HI,
            {"role": "model", "parts": [{"functionCall": {"name": "shot", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "shot",
                            "response": {"result": "taken"},
                            "parts": nested,
                        }
                    }
                ],
            },
        ]
    }
    decoded = CODEC.decode_request(body)
    result = decoded.messages[2].parts[0]
    assert isinstance(result, ToolResultPart)
    assert result.content == [
        TextPart(text="taken"),
        ImagePart(media_type="image/png", data="iVBORw0KGgo="),
    ]
    assert (
        CODEC.encode_request(decoded, "gemini-3-pro-preview")["contents"][2] == body["contents"][2]
    )
    # Another dialect's tool result with an image: the image follows the responses.
    result.extras = {}
    assert CODEC.encode_request(decoded, "gemini-2.5-pro")["contents"][2]["parts"] == [
        {"functionResponse": {"name": "shot", "response": {"result": "taken"}}},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
    ]
