"""Gemini codec, the other methods and helpers: countTokens, embeddings, the Code Assist
envelope, schema cleaning and tool names (§5.5, §6.2, §9.3)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from aiproxyapi.canonical import Message, Request, Role, TextPart, Tool
from aiproxyapi.formats.gemini import (
    CODEC,
    clean_schema,
    decode_count_tokens_response,
    decode_embed_response,
    encode_count_tokens,
    encode_embed_request,
    gemini_name,
    unwrap_code_assist_chunk,
    wrap_code_assist,
)
from aiproxyapi.formats.gemini._schema import from_openapi

CONVERSATION = [
    Message(role=Role.USER, parts=[TextPart(text="hi")]),
    Message(role=Role.ASSISTANT, parts=[TextPart(text="hello")]),
    Message(role=Role.USER, parts=[TextPart(text="count me")]),
]


def test_count_tokens_of_a_bare_conversation_sends_only_contents() -> None:
    assert encode_count_tokens(Request(model="gemini-2.5-flash", messages=CONVERSATION)) == {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hello"}]},
            {"role": "user", "parts": [{"text": "count me"}]},
        ]
    }


def test_count_tokens_with_system_and_tools_wraps_a_generate_request() -> None:
    canonical = Request(
        model="alias",
        messages=CONVERSATION[:1],
        system=[TextPart(text="Be brief.")],
        tools=[
            Tool(name="f", parameters={"type": "object", "properties": {"a": {"type": "string"}}})
        ],
    )
    assert encode_count_tokens(canonical, "gemini-2.5-pro") == {
        "generateContentRequest": {
            "model": "models/gemini-2.5-pro",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "f",
                            "parametersJsonSchema": {
                                "type": "object",
                                "properties": {"a": {"type": "string"}},
                            },
                        }
                    ]
                }
            ],
        }
    }
    assert encode_count_tokens(canonical)["generateContentRequest"]["model"] == "models/alias"


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ({"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}, 31),
        ({"totalTokens": "42"}, 42),
        ({}, 0),
        ({"response": {"totalTokens": 7}}, 7),
    ],
)
def test_count_tokens_answers(body: dict[str, Any], tokens: int) -> None:
    assert decode_count_tokens_response(body) == tokens


@pytest.mark.parametrize("body", [[], {"totalTokens": "many"}, {"totalTokens": True}])
def test_unreadable_count_tokens_answers_raise(body: Any) -> None:
    with pytest.raises(ValueError, match=r"countTokens|totalTokens"):
        decode_count_tokens_response(body)


def test_embeddings_go_out_as_one_batch_and_come_back_in_order() -> None:
    assert encode_embed_request(["a", "b"], "text-embedding-004") == {
        "requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}},
        ]
    }
    answer = {"embeddings": [{"values": [0.5, -1]}, {"values": [0, 2.25]}]}
    assert decode_embed_response(answer) == [[0.5, -1.0], [0.0, 2.25]]
    assert decode_embed_response({"embedding": {"values": [1]}}) == [[1.0]]


@pytest.mark.parametrize(
    "body", [{}, {"embeddings": [{"values": ["x"]}]}, {"embeddings": [{}]}, [1]]
)
def test_unreadable_embeddings_raise(body: Any) -> None:
    with pytest.raises(ValueError, match="embedding"):
        decode_embed_response(body)


def test_the_code_assist_envelope_wraps_and_unwraps() -> None:
    body = CODEC.encode_request(Request(model="m", messages=CONVERSATION[:1]), "gemini-2.5-pro")
    assert wrap_code_assist(body, "models/gemini-2.5-pro", "proj-1") == {
        "model": "gemini-2.5-pro",
        "project": "proj-1",
        "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    }
    # A Gemini CLI speaking Code Assist to the gateway sends the envelope; its body is read.
    assert CODEC.decode_request(wrap_code_assist(body, "gemini-2.5-pro", "proj-1")) == Request(
        model="gemini-2.5-pro", messages=CONVERSATION[:1]
    )
    wrapped = {"response": {"candidates": [], "modelVersion": "m"}, "traceId": "t1"}
    assert unwrap_code_assist_chunk(wrapped) == {
        "candidates": [],
        "modelVersion": "m",
        "responseId": "t1",
    }
    plain = {"candidates": [], "responseId": "r"}
    assert unwrap_code_assist_chunk(plain) is plain
    assert CODEC.decode_response(wrapped).id == "t1"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("get_weather", "get_weather"),
        ("mcp.server:tool-1", "mcp.server:tool-1"),
        ("1st", "_1st"),
        ("-dash", "_-dash"),
        ("with space/slash", "with_space_slash"),
        ("é", "_"),
        ("x" * 64, "x" * 64),
        # Too long: cut, with a digest of the whole name so shared prefixes stay apart.
        ("x" * 70, "x" * 55 + "_" + hashlib.sha256(b"x" * 70).hexdigest()[:8]),
    ],
)
def test_tool_names_become_names_gemini_accepts(name: str, safe: str) -> None:
    assert gemini_name(name) == safe
    assert len(gemini_name(name)) <= 64


def test_schemas_lose_what_gemini_rejects_and_keep_the_rest() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "$schema": {"type": "string", "description": "a property may be called $schema"},
            "node": {"$ref": "#/definitions/Node"},
            "pair": {
                "type": "array",
                "prefixItems": [{"$ref": "#/$defs/a~1b"}, {"type": "number"}],
            },
            "ext": {"$ref": "https://example.com/other.json", "description": "external"},
        },
        "additionalProperties": False,
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/definitions/Node"}, "v": {"type": "integer"}},
            }
        },
        "$defs": {"a/b": {"type": "string", "minLength": 1}},
    }
    assert clean_schema(schema) == {
        "type": "object",
        "properties": {
            "$schema": {"type": "string", "description": "a property may be called $schema"},
            "node": {
                "type": "object",
                # The recursion is cut where it comes back round: an open object.
                "properties": {"next": {"type": "object"}, "v": {"type": "integer"}},
            },
            "pair": {"type": "array", "prefixItems": [{"type": "string", "minLength": 1}, {"type": "number"}]},
            "ext": {"type": "object", "description": "external"},
        },
        "additionalProperties": False,
    }  # fmt: skip


def test_openapi_schemas_read_as_json_schema() -> None:
    assert from_openapi(
        {
            "type": "OBJECT",
            "nullable": True,
            "properties": {
                "kind": {"type": "STRING", "format": "enum", "enum": ["a"]},
                "when": {"type": "STRING", "format": "date-time"},
                "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                "any": {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}], "nullable": True},
                "free": {"type": "TYPE_UNSPECIFIED"},
            },
            "propertyOrdering": ["kind", "when"],
        }
    ) == {
        "type": ["object", "null"],
        "properties": {
            "kind": {"type": "string", "enum": ["a"]},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "any": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            "free": {},
        },
        "propertyOrdering": ["kind", "when"],
    }
