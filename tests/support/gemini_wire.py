"""Google Gemini (generativelanguage v1beta, Vertex publisher) bodies as the real API writes them.

Shapes follow wire-formats.md §5.3-§5.6: ``GenerateContentResponse`` objects whose stream
chunks carry incremental text parts, ``thought: true`` parts, whole ``functionCall`` parts with a
``thoughtSignature``, running ``usageMetadata``, the google.rpc.Status error envelope,
countTokens and the embedding methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._answer import Answer
from .embeddings_wire import DEFAULT_DIMENSIONS, embedding_vector
from .openai_wire import Usage

__all__ = [
    "api_key_invalid_body",
    "candidate_parts",
    "count_tokens_body",
    "embed_body",
    "error_body",
    "finish_reason",
    "models_body",
    "response_body",
    "stream_chunks",
    "usage_json",
]

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
_FINISH["content_filter"] = "SAFETY"
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report."),
    501: ("NOT_IMPLEMENTED", "Method not implemented."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}


def usage_json(usage: Usage, *, final: bool = True) -> dict[str, Any]:
    """§9.5: candidates exclude thoughts; the total is prompt + candidates + thoughts."""
    if not final:
        return {"promptTokenCount": usage.prompt_tokens, "totalTokenCount": usage.prompt_tokens}
    body: dict[str, Any] = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.total_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt_tokens}],
    }
    if usage.reasoning_tokens:
        body["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens:
        body["cachedContentTokenCount"] = usage.cached_tokens
    return body


def finish_reason(reason: str) -> str:
    """§9.1: tool calls keep ``STOP``; upper-case (Gemini's own) values pass through."""
    return reason if reason.isupper() else _FINISH.get(reason, "STOP")


def _call_parts(answer: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for call in answer.tool_calls:
        function: dict[str, Any] = {"name": call.name, "args": dict(call.arguments)}
        if call.id is not None:  # the Gemini API usually sends none (§5.3)
            function["id"] = call.id
        parts.append({"functionCall": function})
    if parts and answer.signature:
        parts[0]["thoughtSignature"] = answer.signature
    return parts


def candidate_parts(answer: Answer) -> list[dict[str, Any]]:
    """The final parts: a thought summary, the text, the function calls.

    The signature goes on the first functionCall, else on the text after thinking; an empty
    signature leaves it out.
    """
    parts: list[dict[str, Any]] = []
    if answer.thinking is not None:
        parts.append({"text": answer.thinking, "thought": True})
    if answer.has_text:
        parts.append({"text": answer.text})
        if answer.thinking is not None and answer.signature and not answer.tool_calls:
            parts[-1]["thoughtSignature"] = answer.signature
    return parts + _call_parts(answer)


def _response(
    answer: Answer, parts: list[dict[str, Any]], *, final: bool, response_id: str
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if final:
        candidate["finishReason"] = finish_reason(answer.finish_reason)
    return {
        "candidates": [candidate],
        "usageMetadata": usage_json(answer.usage, final=final),
        "modelVersion": answer.model,
        "responseId": response_id,
    }


def response_body(answer: Answer) -> dict[str, Any]:
    """The non-streaming ``generateContent`` answer."""
    parts = candidate_parts(answer)
    return _response(answer, parts, final=True, response_id=f"fakeresp{answer.serial}")


def stream_chunks(answer: Answer) -> list[dict[str, Any]]:
    """The ``streamGenerateContent`` chunks; the last has finishReason and the final usage."""
    steps: list[list[dict[str, Any]]] = [
        [{"text": piece, "thought": True}] for piece in answer.thinking_pieces
    ]
    if answer.has_text:
        pieces = [p for p in answer.text_pieces if p] or [""]
        steps += [[{"text": piece}] for piece in pieces]
        if answer.thinking is not None and answer.signature and not answer.tool_calls:
            steps[-1][0]["thoughtSignature"] = answer.signature
    if answer.tool_calls:
        steps.append(_call_parts(answer))
    response_id = f"fakeresp{answer.serial}"
    last = len(steps) - 1
    return [
        _response(answer, parts, final=index == last, response_id=response_id)
        for index, parts in enumerate(steps)
    ]


def error_body(
    status: int, message: str | None = None, *, retry_after: float | None = None
) -> dict[str, Any]:
    """The google.rpc.Status envelope; retry_after becomes ``RetryInfo.retryDelay`` (§5.6)."""
    default_status = "INVALID_ARGUMENT" if status < 500 else "INTERNAL"
    code_name, default_message = _ERRORS.get(status, (default_status, f"Upstream error {status}"))
    error: dict[str, Any] = {
        "code": status,
        "message": message or default_message,
        "status": code_name,
    }
    if retry_after is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after:g}s"}
        ]
    return {"error": error}


def api_key_invalid_body() -> dict[str, Any]:
    """What Gemini answers (with HTTP 400) for a bad key (§5.6)."""
    body = error_body(400, "API key not valid. Please pass a valid API key.")
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ]
    return body


def count_tokens_body(tokens: int) -> dict[str, Any]:
    """The ``:countTokens`` answer."""
    return {
        "totalTokens": tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
    }


def _content_text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    texts = [p.get("text", "") for p in parts or [] if isinstance(p, dict)]
    return "".join(t for t in texts if isinstance(t, str))


def embed_body(request: dict[str, Any], *, batch: bool) -> dict[str, Any]:
    """The ``:batchEmbedContents`` (or single ``:embedContent``) answer for a request body."""

    def values(item: dict[str, Any]) -> dict[str, Any]:
        config = item.get("embedContentConfig")  # Vertex puts the options here
        size = item.get("outputDimensionality") or (
            config.get("outputDimensionality") if isinstance(config, dict) else None
        )
        size = size if isinstance(size, int) else DEFAULT_DIMENSIONS
        return {"values": embedding_vector(_content_text(item.get("content")), size)}

    if not batch:
        return {"embedding": values(request)}
    items = request.get("requests") or []
    return {"embeddings": [values(item) for item in items if isinstance(item, dict)]}


def models_body(ids: Sequence[str]) -> dict[str, Any]:
    """The ``GET /v1beta/models`` page."""
    return {
        "models": [
            {
                "name": f"models/{model}",
                "version": "001",
                "displayName": model,
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for model in ids
        ]
    }
