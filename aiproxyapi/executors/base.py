"""What every executor shares: the call record, the Protocol, and one HTTP send path.

An executor is a small class naming its dialect, its URL for each action and its auth headers;
`HttpExecutor.open` does the rest. Failures come back as `UpstreamFailure` data for the pool to
judge, with the credential's key scrubbed from anything the upstream echoed.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Iterable
from typing import ClassVar, Protocol

import httpx
import msgspec

from aiproxyapi.credential import ApiKeyCredential, Credential
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.transport import pooled_chunks
from aiproxyapi.formats.dialect import Format

__all__ = [
    "ANSWER_BODY_LIMIT",
    "ERROR_BODY_LIMIT",
    "Action",
    "Executor",
    "HttpExecutor",
    "UpstreamCall",
    "entry_headers",
    "key_of",
    "open_upstream",
    "read_answer",
    "redact",
]

ERROR_BODY_LIMIT = 64 * 1024
ANSWER_BODY_LIMIT = 64 * 1024 * 1024

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
        "host",
        "content-length",
    }
)


class Action(enum.Enum):
    """What an upstream call does."""

    GENERATE = "generate"
    COUNT_TOKENS = "count_tokens"
    EMBED = "embed"


class UpstreamCall(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an executor needs for one attempt; the credential is an argument, not state."""

    credential: Credential
    upstream_model: str
    body: bytes
    stream: bool = False
    action: Action = Action.GENERATE
    forward_headers: tuple[tuple[str, str], ...] = ()
    """Client headers the upstream dialect defines (e.g. `anthropic-beta`), same dialect only."""


class Executor(Protocol):
    """Speaks one provider's API: builds the request, sends it, hands back the open response."""

    @property
    def dialect(self) -> Format:
        """The wire dialect the upstream speaks."""
        ...

    async def open(self, call: UpstreamCall) -> httpx.Response:
        """Send the call; return the open 2xx response or raise UpstreamFailure."""
        ...


class HttpExecutor:
    """Base of the HTTP executors: subclasses give the URL and the auth headers."""

    dialect: ClassVar[Format]

    def __init__(self, clients: HttpClients, global_proxy: str, timeouts: UpstreamTimeouts) -> None:
        self._clients = clients
        self._global_proxy = global_proxy
        self._timeouts = timeouts

    def client_for(self, credential: Credential) -> httpx.AsyncClient:
        """The shared HTTP client for the credential's egress proxy."""
        return self._clients.get(credential.proxy_url, self._global_proxy, self._timeouts)

    def url(self, call: UpstreamCall) -> str:
        """The upstream URL for the call's action."""
        raise NotImplementedError

    def auth_headers(self, credential: Credential) -> dict[str, str]:
        """The headers that carry the credential."""
        raise NotImplementedError

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """Headers the dialect requires besides auth (e.g. `anthropic-version`)."""
        return {}

    async def open(self, call: UpstreamCall) -> httpx.Response:
        """Post the body; the open 2xx response, or UpstreamFailure."""
        credential = call.credential
        return await self.post(
            call,
            self.url(call),
            self.auth_headers(credential),
            call.body,
            secrets=(key_of(credential),),
        )

    async def post(
        self,
        call: UpstreamCall,
        url: str,
        auth: dict[str, str],
        body: bytes,
        *,
        secrets: Iterable[str],
        accept: str = "",
    ) -> httpx.Response:
        """Post `body` to `url` with the entry, dialect and auth headers; scrub `secrets`."""
        credential = call.credential
        client = self.client_for(credential)
        headers = entry_headers(credential)
        headers.update({name.lower(): value for name, value in call.forward_headers})
        headers.update(self.dialect_headers(call))
        headers.update(auth)
        headers["content-type"] = "application/json"
        headers["accept"] = accept or ("text/event-stream" if call.stream else "application/json")
        sending = self._clients.post(client, url, headers, body)
        return await _judged(sending, secrets, self.dialect)


def key_of(credential: Credential) -> str:
    """The API key of a config credential; an OAuth account has none."""
    if isinstance(credential, ApiKeyCredential):
        return credential.api_key.reveal()
    raise TypeError(f"credential {credential.label} carries no API key")


def redact(data: bytes, secrets: Iterable[str]) -> bytes:
    """Remove the credential's secrets from an upstream body some providers echo them in."""
    for secret in secrets:
        raw = secret.encode()
        if raw and raw in data:
            data = data.replace(raw, b"[redacted]")
    return data


def entry_headers(credential: Credential) -> dict[str, str]:
    """Per-entry custom headers, without any that would change the hop or the framing."""
    return {
        name.lower(): value for name, value in credential.headers if name.lower() not in _HOP_BY_HOP
    }


async def open_upstream(
    client: httpx.AsyncClient, request: httpx.Request, secrets: Iterable[str], dialect: Format
) -> httpx.Response:
    """Send a request as a stream; a non-2xx answer or a transport error becomes UpstreamFailure."""
    return await _judged(client.send(request, stream=True), secrets, dialect)


async def _judged(
    sending: Awaitable[httpx.Response], secrets: Iterable[str], dialect: Format
) -> httpx.Response:
    try:
        response = await sending
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
        headers={name.lower(): value for name, value in response.headers.items()},
        body=redact(body, secrets),
        content_type=response.headers.get("content-type", "application/json"),
        dialect=dialect.value,
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


async def read_answer(response: httpx.Response, *, what: str = "reading the answer") -> bytes:
    """A whole upstream body, bounded; a broken or oversized body fails the attempt."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in pooled_chunks(response) or response.aiter_bytes():
            size += len(chunk)
            if size > ANSWER_BODY_LIMIT:
                raise UpstreamFailure("upstream answer exceeds the size limit", status=None)
            parts.append(chunk)
    except httpx.HTTPError as exc:
        raise UpstreamFailure(
            f"{what} failed ({type(exc).__name__})",
            status=None,
            timed_out=isinstance(exc, httpx.TimeoutException),
        ) from None
    return b"".join(parts)
