"""OpenAI embeddings (`POST /v1/embeddings`, wire-formats §3): request checks and the answer.

The OpenAI SDK asks for `encoding_format: "base64"` unless told otherwise and decodes the
vectors itself, so both forms are written: float lists, or the base64 of little-endian float32.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from aiproxyapi.formats.codec import TranslationError

__all__ = ["decode_embeddings_request", "encode_embeddings_response"]

_FORMATS = ("float", "base64")


def decode_embeddings_request(body: dict[str, Any]) -> tuple[list[str], str, str, int | None]:
    """(texts, model, encoding_format, dimensions) of an embeddings body."""
    if not isinstance(body, dict):
        raise TranslationError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise TranslationError("`model` must be a non-empty string", "model")
    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in _FORMATS:
        raise TranslationError("`encoding_format` must be float or base64", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise TranslationError("`dimensions` must be a positive integer", "dimensions")
    return _inputs(body.get("input")), model, encoding_format, dimensions


def _inputs(given: Any) -> list[str]:
    texts = [given] if isinstance(given, str) else given
    if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
        for index, text in enumerate(texts):
            if not text:
                raise TranslationError("inputs must not be empty strings", f"input[{index}]")
        return list(texts)
    if isinstance(texts, list) and texts and all(isinstance(t, (int, list)) for t in texts):
        raise TranslationError("token-array inputs are not supported; send text", "input")
    raise TranslationError("`input` must be a non-empty string or array of strings", "input")


def encode_embeddings_response(
    vectors: Sequence[Sequence[float]], model: str, usage_tokens: int, encoding_format: str
) -> dict[str, Any]:
    """The OpenAI embeddings answer, vectors as float lists or base64 float32."""
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)}
            for index, vector in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": usage_tokens, "total_tokens": usage_tokens},
    }


def _encode(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)
