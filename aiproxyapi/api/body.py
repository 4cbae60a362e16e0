"""Reading a client body: size limit before and while reading, JSON content type only."""

from __future__ import annotations

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.errors import ClientRequestError

__all__ = ["read_json_body"]


async def read_json_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes and 415 for a non-JSON content type."""
    content_type = request.headers.get("content-type", "application/json")
    media = content_type.partition(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise ClientRequestError(
            f"unsupported content type {media!r}: send application/json",
            status=415,
            code="unsupported_media_type",
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ClientRequestError("invalid Content-Length header", code="invalid_request")
        if int(declared) > limit:
            raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int) -> ClientRequestError:
    return ClientRequestError(
        f"request body exceeds the limit of {limit} bytes (limits.max-body-mb)",
        status=413,
        code="request_too_large",
    )
