"""The Gemini methods beside generateContent: countTokens, batchEmbedContents (§5.5), and the
Code Assist envelope of §6.2 that wraps a generateContent body for cloudcode-pa."""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Request
from aiproxyapi.formats.gemini._request_encode import (
    encode_contents,
    encode_tools,
    system_instruction,
)

__all__ = [
    "decode_count_tokens_response",
    "decode_embed_response",
    "encode_count_tokens",
    "encode_embed_request",
    "wrap_code_assist",
]


def _model_path(model: str) -> str:
    return model if model.startswith("models/") else f"models/{model}"


def encode_count_tokens(request: Request, model: str | None = None) -> dict[str, Any]:
    """A `:countTokens` body for the request's prompt.

    Bare `{"contents"}` when there is only conversation; with a system instruction or tools the
    body must be a `generateContentRequest`, which names the model (`model`, else the
    request's own).
    """
    name = model or request.model
    contents = encode_contents(request.messages, name)
    system = system_instruction(request)
    if system is None and not request.tools:
        return {"contents": contents}
    inner: dict[str, Any] = {"model": _model_path(name), "contents": contents}
    if system is not None:
        inner["systemInstruction"] = system
    if request.tools:
        inner["tools"] = encode_tools(request.tools)
    return {"generateContentRequest": inner}


def decode_count_tokens_response(body: Any) -> int:
    """`totalTokens` of a countTokens answer (plain or Code Assist); absent means 0."""
    if isinstance(body, dict) and isinstance(body.get("response"), dict):
        body = body["response"]
    if not isinstance(body, dict):
        raise ValueError("a countTokens answer must be a JSON object")
    total = body.get("totalTokens", 0)
    if isinstance(total, str) and total.isdigit():  # int64 may come quoted
        total = int(total)
    if isinstance(total, bool) or not isinstance(total, int):
        raise ValueError("`totalTokens` must be an integer")
    return total


def encode_embed_request(inputs: list[str], model: str) -> dict[str, Any]:
    """A `:batchEmbedContents` body with one request per input text."""
    path = _model_path(model)
    return {
        "requests": [{"model": path, "content": {"parts": [{"text": text}]}} for text in inputs]
    }


def decode_embed_response(body: Any) -> list[list[float]]:
    """The vectors of a `:batchEmbedContents` (or single `:embedContent`) answer, in order."""
    if not isinstance(body, dict):
        raise ValueError("an embeddings answer must be a JSON object")
    entries = body.get("embeddings")
    if entries is None and "embedding" in body:
        entries = [body["embedding"]]
    if not isinstance(entries, list):
        raise ValueError("the answer has no `embeddings` array")
    vectors: list[list[float]] = []
    for entry in entries:
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise ValueError("an embedding has no numeric `values`")
        vectors.append([float(v) for v in values])
    return vectors


def wrap_code_assist(body: dict[str, Any], model: str, project: str) -> dict[str, Any]:
    """The cloudcode-pa envelope `{model, project, request}` around a generateContent body."""
    return {"model": model.removeprefix("models/"), "project": project, "request": body}
