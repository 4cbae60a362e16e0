"""Deterministic fake embeddings and token estimates, shared by the OpenAI and Gemini routes.

A vector depends only on its input text and dimension, so tests can compute the expected value
with :func:`embedding_vector`. OpenAI bodies follow wire-formats.md §3 (float or base64, the
little-endian float32 array the SDK asks for by default).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DEFAULT_DIMENSIONS",
    "embedding_vector",
    "estimate_tokens",
    "openai_embedding_inputs",
    "openai_embeddings_body",
]

DEFAULT_DIMENSIONS = 8
_MAX_DIMENSIONS = 4096


def estimate_tokens(obj: Any) -> int:
    """The fake's token count for a JSON value: its compact serialisation's length / 4, >= 1."""
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return max(1, len(text) // 4)


def embedding_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A unit-length vector derived from the text, with float32 precision (as both APIs send)."""
    if not 1 <= dimensions <= _MAX_DIMENSIONS:
        raise ValueError(f"dimensions must be 1..{_MAX_DIMENSIONS}")
    raw = b""
    counter = 0
    while len(raw) < 4 * dimensions:  # 8 values per digest, so bounded by dimensions / 8
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    ints = struct.unpack(f"<{dimensions}I", raw[: 4 * dimensions])
    values = [i / 2**31 - 1.0 for i in ints]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def openai_embedding_inputs(body: dict[str, Any]) -> list[str] | str:
    """The texts to embed (token arrays become their JSON text), or an error message."""
    given = body.get("input")
    if isinstance(given, str):
        return [given]
    if isinstance(given, list) and given:
        if all(isinstance(item, str) for item in given):
            return list(given)
        if all(isinstance(item, int) for item in given):
            return [json.dumps(given)]
        if all(isinstance(item, list) for item in given):
            return [json.dumps(item) for item in given]
    return "'input' must be a non-empty string, array of strings or array of token arrays."


def _encode(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return list(vector)


def openai_embeddings_body(
    texts: Sequence[str], *, model: str, encoding_format: str = "float", dimensions: int | None
) -> dict[str, Any]:
    """The ``POST /v1/embeddings`` answer for these texts."""
    size = dimensions or DEFAULT_DIMENSIONS
    tokens = sum(estimate_tokens(text) for text in texts)
    return {
        "object": "list",
        "model": model,
        "data": [
            {
                "object": "embedding",
                "index": index,
                "embedding": _encode(embedding_vector(text, size), encoding_format),
            }
            for index, text in enumerate(texts)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
