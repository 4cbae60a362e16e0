"""What every executor shares: the Protocol, and sending with failures turned into data."""

from __future__ import annotations

from typing import Protocol

import httpx
import msgspec

from aiproxyapi.credential import Credential
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.formats import Format

__all__ = ["ERROR_BODY_LIMIT", "Executor", "UpstreamCall", "open_upstream", "redact"]

ERROR_BODY_LIMIT = 64 * 1024

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class UpstreamCall(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an executor needs for one attempt; the credential is an argument, not state."""

    credential: Credential
    upstream_model: str
    body: bytes
    stream: bool


class Executor(Protocol):
    """Speaks one provider's API: builds the request, sends it, hands back the open response."""

    dialect: Format

    async def open(self, call: UpstreamCall) -> httpx.Response:
        """Send the call; return the open 2xx response or raise UpstreamFailure."""
        ...


def redact(data: bytes, credential: Credential) -> bytes:
    """Remove the credential's key from an upstream body some providers echo it in."""
    secret = credential.api_key.reveal().encode()
    if secret and secret in data:
        data = data.replace(secret, b"[redacted]")
    return data


def entry_headers(credential: Credential) -> dict[str, str]:
    """Per-entry custom headers, without any that would change the hop or the auth."""
    return {
        name.lower(): value
        for name, value in credential.headers
        if name.lower() not in _HOP_BY_HOP and name.lower() != "host"
    }


async def open_upstream(
    client: httpx.AsyncClient, request: httpx.Request, credential: Credential
) -> httpx.Response:
    """Send a request as a stream; a non-2xx answer or a transport error becomes UpstreamFailure."""
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise UpstreamFailure(
            f"timed out ({type(exc).__name__})", status=None, timed_out=True
        ) from None
    except httpx.HTTPError as exc:
        raise UpstreamFailure(f"transport error ({type(exc).__name__})", status=None) from None
    if response.status_code < 300:
        return response
    try:
        body = await _read_limited(response, ERROR_BODY_LIMIT)
    except httpx.HTTPError:
        body = b""
    finally:
        await response.aclose()
    raise UpstreamFailure(
        f"upstream status {response.status_code}",
        status=response.status_code,
        headers=_plain_headers(response.headers),
        body=redact(body, credential),
        content_type=response.headers.get("content-type", "application/json"),
    )


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


def _plain_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
