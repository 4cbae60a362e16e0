"""OpenAI embeddings: request checks and the answer in float and base64 form."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_embeddings import (
    decode_embeddings_request,
    encode_embeddings_response,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"model": "e", "input": "hello"}, (["hello"], "e", "float", None)),
        (
            {"model": "e", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 256},
            (["a", "b"], "e", "base64", 256),
        ),
        (
            {"model": "e", "input": "x", "encoding_format": None, "user": "u"},
            (["x"], "e", "float", None),
        ),
    ],
)
def test_decode_embeddings_request(body: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert decode_embeddings_request(body) == expected


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": [1, 2, 3]}, "input"),
        ({"input": [[1, 2], [3]]}, "input"),
        ({"input": []}, "input"),
        ({"input": 5}, "input"),
        ({"input": ["a", ""]}, "input[1]"),
        ({"input": ["a", 1]}, "input"),
        ({"model": ""}, "model"),
        ({"encoding_format": "int8"}, "encoding_format"),
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": True}, "dimensions"),
    ],
)
def test_bad_embeddings_requests_are_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        decode_embeddings_request({"model": "e", "input": "x", **fields})
    assert caught.value.param == param


def test_float_vectors_are_lists() -> None:
    assert encode_embeddings_response([[0.5, -1.0], [0.25, 2.0]], "e", 8, "float") == {
        "object": "list",
        "model": "e",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
            {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]},
        ],
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


def test_base64_vectors_are_little_endian_float32() -> None:
    body = encode_embeddings_response([[1.0, 2.0, -0.5]], "e", 3, "base64")
    encoded = body["data"][0]["embedding"]
    assert encoded == "AACAPwAAAEAAAAC/"
    assert list(struct.unpack("<3f", base64.b64decode(encoded))) == [1.0, 2.0, -0.5]
