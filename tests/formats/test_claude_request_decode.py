"""Anthropic request bodies → canonical requests: recorded shapes as data, and the 400s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiproxyapi.canonical import Reasoning, ResponseFormat, TextPart
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.claude import CODEC, decode_count_tokens_request
from aiproxyapi.formats.codec import TranslationError
from tests.formats.claude_cases import cases, load, request

BASE: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": []}


def decode(**fields: Any) -> Any:
    return CODEC.decode_request({**BASE, **fields})


def test_the_codec_table_serves_this_codec() -> None:
    assert codec_for(Format.CLAUDE) is CODEC
    assert CODEC.format is Format.CLAUDE


@pytest.mark.parametrize("path", cases("decode"), ids=lambda p: Path(p).stem)
def test_recorded_bodies_decode_to_the_exact_canonical_request(path: Path) -> None:
    case = load(path)
    assert CODEC.decode_request(case["body"]) == request(case["canonical"])


def test_count_tokens_bodies_need_no_max_tokens() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "count me"}],
        "system": "sys",
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    }
    decoded = decode_count_tokens_request(body)
    assert decoded.max_tokens is None
    assert decoded.system == [TextPart(text="sys")]
    assert [tool.name for tool in decoded.tools] == ["t"]
    assert decoded.messages[0].parts == [TextPart(text="count me")]


@pytest.mark.parametrize(
    ("thinking", "output_config", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 10000}, None, Reasoning(budget=10000)),
        (
            {"type": "enabled", "budget_tokens": 10000},
            {"effort": "low"},
            Reasoning(effort="low", budget=10000),
        ),
        ({"type": "adaptive"}, None, Reasoning(effort="auto")),
        ({"type": "adaptive", "display": "omitted"}, {"effort": "max"}, Reasoning(effort="max")),
        ({"type": "disabled"}, None, Reasoning(effort="none", budget=0)),
        (None, {"effort": "medium"}, Reasoning(effort="medium")),
        (None, None, None),
    ],
)
def test_thinking_and_effort_become_one_reasoning_request(
    thinking: Any, output_config: Any, expected: Reasoning | None
) -> None:
    fields = {"thinking": thinking, "output_config": output_config}
    decoded = decode(**{k: v for k, v in fields.items() if v is not None})
    assert decoded.reasoning == expected


@pytest.mark.parametrize(
    ("choice", "mode", "name", "parallel"),
    [
        ({"type": "auto"}, "auto", "", None),
        ({"type": "any"}, "required", "", None),
        ({"type": "tool", "name": "f"}, "tool", "f", None),
        ({"type": "none"}, "none", "", None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", "", False),
        ({"type": "any", "disable_parallel_tool_use": False}, "required", "", True),
    ],
)
def test_tool_choice_maps_to_the_hub_modes(
    choice: dict[str, Any], mode: str, name: str, parallel: bool | None
) -> None:
    decoded = decode(tool_choice=choice)
    assert decoded.tool_choice is not None
    assert (decoded.tool_choice.mode, decoded.tool_choice.name) == (mode, name)
    assert decoded.parallel_tool_calls is parallel


def test_legacy_output_format_is_structured_output_too() -> None:
    schema = {"type": "object"}
    decoded = decode(output_format={"type": "json_schema", "schema": schema})
    assert decoded.response_format == ResponseFormat(type="json_schema", schema=schema)
    assert decoded.extras == {"claude": {"output_format": True}}


def test_system_turns_are_hoisted_in_order_and_empty_text_dropped() -> None:
    decoded = decode(
        system=[{"type": "text", "text": "first"}, {"type": "text", "text": ""}],
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "second"}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "third"},
        ],
    )
    assert [part.text for part in decoded.system] == ["first", "second", "third"]
    assert len(decoded.messages) == 1


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 5}, "model"),
        ({"model": " "}, "model"),
        ({"messages": None}, "messages"),
        ({"messages": {"role": "user"}}, "messages"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"stream": "yes"}, "stream"),
        ({"stop_sequences": ["a", 1]}, "stop_sequences[1]"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}
                ]
            },
            "messages[0].content[0].source.media_type",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]},
            "messages[0].content[0].id",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": 3}]}]},
            "messages[0].content[0]",
        ),
        ({"system": [{"type": "image", "source": {"type": "url", "url": "u"}}]}, "system[0]"),
        ({"system": [{"type": "search_result"}]}, "system[0]"),
        ({"tools": [{"description": "no name"}]}, "tools[0].name"),
        ({"tools": [{"name": "f", "input_schema": []}]}, "tools[0].input_schema"),
        ({"tool_choice": {"type": "maybe"}}, "tool_choice"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"output_config": {"format": {"type": "regex"}}}, "output_config.format"),
        ({"metadata": {"user_id": 7}}, "metadata.user_id"),
    ],
)
def test_unusable_bodies_raise_with_the_offending_path(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        decode(**fields)
    assert caught.value.param == param


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(TranslationError):
        CODEC.decode_request([])  # type: ignore[arg-type]
