"""Canonical requests → Anthropic bodies: the exact JSON, Anthropic's rules, and round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    Request,
    Role,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from aiproxyapi.formats.claude import CODEC, count_tokens_body
from aiproxyapi.formats.codec import TranslationError
from tests.formats.claude_cases import cases, load, request


def user(*parts: Any) -> Message:
    return Message(role=Role.USER, parts=list(parts))


def assistant(*parts: Any) -> Message:
    return Message(role=Role.ASSISTANT, parts=list(parts))


def encode(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [user(TextPart(text="hi"))])
    return CODEC.encode_request(Request(model="m", **fields), "claude-x")


@pytest.mark.parametrize("path", cases("encode"), ids=lambda p: Path(p).stem)
def test_canonical_requests_encode_to_the_exact_body(path: Path) -> None:
    case = load(path)
    assert CODEC.encode_request(request(case["canonical"]), case["model"]) == case["body"]


@pytest.mark.parametrize("path", cases("roundtrip"), ids=lambda p: Path(p).stem)
def test_anthropic_bodies_survive_a_round_trip_unchanged(path: Path) -> None:
    body = load(path)["body"]
    assert CODEC.encode_request(CODEC.decode_request(body), body["model"]) == body


@pytest.mark.parametrize("path", cases("decode"), ids=lambda p: Path(p).stem)
def test_recorded_bodies_encode_again_with_only_the_documented_changes(path: Path) -> None:
    case = load(path)
    decoded = CODEC.decode_request(case["body"])
    assert CODEC.encode_request(decoded, case["body"]["model"]) == case["reencoded"]


def test_the_upstream_model_name_replaces_the_clients() -> None:
    assert encode()["model"] == "claude-x"


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking", "expected_max"),
    [
        (Reasoning(budget=500), None, {"type": "enabled", "budget_tokens": 1024}, 8192),
        (Reasoning(budget=10000), 4000, {"type": "enabled", "budget_tokens": 10000}, 14000),
        (Reasoning(budget=10000), 20000, {"type": "enabled", "budget_tokens": 10000}, 20000),
        (Reasoning(effort="minimal"), None, {"type": "enabled", "budget_tokens": 1024}, 8192),
        (Reasoning(effort="medium"), 100, {"type": "enabled", "budget_tokens": 8192}, 8292),
        (
            Reasoning(effort="auto", budget=-1),
            None,
            {"type": "enabled", "budget_tokens": 8192},
            16384,
        ),
        (Reasoning(summary="auto"), None, {"type": "enabled", "budget_tokens": 8192}, 16384),
        (Reasoning(effort="none"), None, {"type": "disabled"}, 8192),
        (Reasoning(effort="high", budget=0), 50, {"type": "disabled"}, 50),
        (None, None, None, 8192),
    ],
)
def test_reasoning_becomes_a_thinking_budget_below_max_tokens(
    reasoning: Reasoning | None, max_tokens: int | None, thinking: Any, expected_max: int
) -> None:
    body = encode(reasoning=reasoning, max_tokens=max_tokens)
    assert body.get("thinking") == thinking
    assert body["max_tokens"] == expected_max
    assert "output_config" not in body  # effort goes out only to clients' own Anthropic requests


def test_thinking_leaves_out_what_anthropic_refuses_with_it() -> None:
    tools = [Tool(name="f", parameters={"type": "object"})]
    sampling = {"temperature": 0.7, "top_p": 0.9, "top_k": 3}
    on = encode(
        reasoning=Reasoning(effort="low"),
        tools=tools,
        tool_choice=ToolChoice(mode="required"),
        **sampling,
    )
    assert {"temperature", "top_p", "top_k"}.isdisjoint(on)
    assert on["tool_choice"] == {"type": "auto"}
    kept = encode(reasoning=Reasoning(effort="low"), temperature=1.0, top_p=0.95)
    assert (kept["temperature"], kept["top_p"]) == (1.0, 0.95)
    off = encode(tools=tools, tool_choice=ToolChoice(mode="required"), **sampling)
    assert (off["temperature"], off["top_p"], off["top_k"]) == (0.7, 0.9, 3)
    assert off["tool_choice"] == {"type": "any"}


def test_an_anthropic_client_that_sent_only_an_effort_gets_no_thinking() -> None:
    decoded = CODEC.decode_request(
        {"model": "m", "max_tokens": 10, "messages": [], "output_config": {"effort": "low"}}
    )
    assert decoded.reasoning == Reasoning(effort="low")
    body = CODEC.encode_request(decoded, "m")
    assert "thinking" not in body
    assert body["output_config"] == {"effort": "low"}


def test_a_thinking_suffix_overrides_an_adaptive_request_with_a_budget() -> None:
    decoded = CODEC.decode_request(
        {
            "model": "m",
            "max_tokens": 1000,
            "messages": [],
            "thinking": {"type": "adaptive", "display": "omitted"},
            "output_config": {"effort": "low"},
        }
    )
    decoded.reasoning = Reasoning(effort="high", budget=24576)  # as the relay's plan does
    body = CODEC.encode_request(decoded, "m")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576, "display": "omitted"}
    assert body["output_config"] == {"effort": "high"}
    assert body["max_tokens"] == 25576


def test_tool_ids_are_made_valid_and_results_still_match_their_calls() -> None:
    messages = [
        user(TextPart(text="go")),
        assistant(
            ToolCallPart(id="a.b", name="f"),
            ToolCallPart(id="a_b", name="f"),
            ToolCallPart(id="fc:1/x", name="g"),
            ToolCallPart(id="", name="h"),
        ),
        user(
            ToolResultPart(tool_call_id="fc:1/x"),
            ToolResultPart(tool_call_id="a.b"),
            ToolResultPart(tool_call_id="a_b"),
            ToolResultPart(tool_call_id=""),
        ),
    ]
    body = encode(messages=messages)
    calls = [block["id"] for block in body["messages"][1]["content"]]
    results = [block["tool_use_id"] for block in body["messages"][2]["content"]]
    assert calls == ["a_b_1", "a_b", "fc_1_x", "toolu_1"]
    assert results == ["fc_1_x", "a_b_1", "a_b", "toolu_1"]


def test_turns_are_merged_and_tool_results_lead_their_turn() -> None:
    messages = [
        user(TextPart(text="a")),
        user(TextPart(text="b")),
        assistant(ToolCallPart(id="t1", name="f"), ToolCallPart(id="t2", name="f")),
        assistant(TextPart(text="")),
        user(TextPart(text="note")),
        user(ToolResultPart(tool_call_id="t2", content=[TextPart(text="2")])),
        user(ToolResultPart(tool_call_id="t1", content=[])),
    ]
    assert encode(messages=messages)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t2", "content": "2"},
                {"type": "tool_result", "tool_use_id": "t1"},
                {"type": "text", "text": "note"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("part", "block"),
    [
        (ThinkingPart(text="t", signature="s", signature_source="claude"), "thinking"),
        (ThinkingPart(redacted="r", signature_source="claude"), "redacted_thinking"),
        (ThinkingPart(text="t", signature="s", signature_source="gemini"), None),
        (ThinkingPart(redacted="enc", signature_source="openai-responses"), None),
        (ThinkingPart(text="unsigned", signature_source="claude"), None),
        (ThinkingPart(text="plain"), None),
    ],
)
def test_only_thinking_anthropic_signed_is_replayed(part: ThinkingPart, block: str | None) -> None:
    body = encode(messages=[user(TextPart(text="q")), assistant(part, TextPart(text="a"))])
    content = body["messages"][1]["content"]
    if block is None:
        assert content == "a"
    else:
        assert [b["type"] for b in content] == [block, "text"]


@pytest.mark.parametrize(
    ("part", "block"),
    [
        (
            ImagePart(data="iVBORw0", detail="low"),
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"},
            },
        ),
        (
            ImagePart(data="R0lGODlh"),
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/gif", "data": "R0lGODlh"},
            },
        ),
        (
            ImagePart(url="https://x/y.png"),
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        ),
        (
            DocumentPart(media_type="application/pdf", data="JVBE", filename="a.pdf"),
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                "title": "a.pdf",
            },
        ),
        (
            DocumentPart(media_type="text/markdown", data="IyBoaQ=="),
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "# hi"},
            },
        ),
        (
            DocumentPart(url="data:application/pdf;base64,JVBE"),
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            },
        ),
        (
            DocumentPart(file_id="file-abc"),
            {"type": "document", "source": {"type": "file", "file_id": "file-abc"}},
        ),
    ],
)
def test_images_and_documents_become_sourced_blocks(part: Any, block: dict[str, Any]) -> None:
    body = encode(messages=[user(part, TextPart(text="?"))])
    assert body["messages"][0]["content"][0] == block


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (ImagePart(), "messages[0].content[0]"),
        (DocumentPart(filename="x"), "messages[0].content[0]"),
    ],
)
def test_media_without_any_source_is_a_translation_error(part: Any, param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        encode(messages=[user(part)])
    assert caught.value.param == param


def test_tool_choice_needs_tools_and_parallel_calls_ride_on_it() -> None:
    assert "tool_choice" not in encode(tool_choice=ToolChoice(mode="required"))
    tools = [Tool(name="f")]
    assert encode(tools=tools, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    assert "tool_choice" not in encode(tools=tools, parallel_tool_calls=True)
    assert encode(tools=tools, tool_choice=ToolChoice(mode="none"), parallel_tool_calls=False)[
        "tool_choice"
    ] == {"type": "none"}
    assert encode(tools=tools)["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}}
    ]


def test_count_tokens_body_keeps_only_what_count_tokens_takes() -> None:
    decoded = CODEC.decode_request(load(cases("decode")[1])["body"])
    body = count_tokens_body(decoded, "claude-upstream")
    assert set(body) == {"model", "messages", "system", "tools", "tool_choice", "thinking"}
    assert body["model"] == "claude-upstream"
    assert body["thinking"] == {"type": "adaptive"}
    assert count_tokens_body(Request(model="own", messages=[user(TextPart(text="x"))])) == {
        "model": "own",
        "messages": [{"role": "user", "content": "x"}],
    }
