"""Executor for Gemini CLI accounts: the Code Assist `v1internal` envelope, wire-formats §6.

The Gemini body goes up inside `{model, project, request}` (countTokens: `{request}` only) and
every answer, streamed or not, comes back inside `{response: ...}`, which is unwrapped here so
the Gemini codec reads it as usual. An account without a project finds one through
loadCodeAssist / onboardUser. On quota (429) the account may move to its next project and the
call may fall back to the model's preview variant, as `quota-exceeded` says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec

from aiproxyapi.config import QuotaExceeded
from aiproxyapi.credential import OAuthCredential
from aiproxyapi.endpoints import upstream_url
from aiproxyapi.errors import ClientRequestError, UpstreamFailure
from aiproxyapi.executors.base import Action, UpstreamCall, open_upstream
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.oauth import Grant, OAuthExecutor, TokenSource, json_body, rewrap
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.sse import SSEDecoder

__all__ = [
    "PREVIEW_FALLBACKS",
    "GeminiCliExecutor",
    "UnwrappedStream",
    "envelope",
    "retry_delay",
]

log = logging.getLogger("aiproxyapi.executors")

PREVIEW_FALLBACKS: dict[str, str] = {
    "gemini-2.5-pro": "gemini-2.5-pro-preview-06-05",
    "gemini-2.5-flash": "gemini-2.5-flash-preview-09-2025",
    "gemini-2.5-flash-lite": "gemini-2.5-flash-lite-preview-09-2025",
}
"""The preview variant a model falls back to when `switch-preview-model` is on."""

_HEADERS = {
    "user-agent": "GeminiCLI/0.10.0 (linux; x64)",
    "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v22.19.0",
}
_METADATA = {
    "ideType": "IDE_UNSPECIFIED",
    "platform": "PLATFORM_UNSPECIFIED",
    "pluginType": "GEMINI",
}
_ONBOARD_POLLS = 10
_json = msgspec.json.Decoder()


def envelope(call: UpstreamCall, model: str, project: str) -> dict[str, Any]:
    """The Code Assist request around the Gemini body."""
    body = json_body(call.body)
    if call.action is Action.COUNT_TOKENS:
        inner = body.get("generateContentRequest")
        if not isinstance(inner, dict):
            inner = {"model": f"models/{model}", "contents": body.get("contents", [])}
        return {"request": inner}
    return {"model": model, "project": project, "request": body}


def _method(call: UpstreamCall) -> str:
    if call.action is Action.COUNT_TOKENS:
        return "countTokens"
    return "streamGenerateContent?alt=sse" if call.stream else "generateContent"


class UnwrappedStream(httpx.AsyncByteStream):
    """An SSE stream of `{response: ...}` events, re-emitted as the bare Gemini chunks."""

    def __init__(self, upstream: httpx.Response) -> None:
        self._upstream = upstream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        decoder = SSEDecoder()
        async for chunk in self._upstream.aiter_bytes():
            out = b"".join(_unwrap_event(event.data) for event in decoder.feed(chunk))
            if out:
                yield out
        tail = b"".join(_unwrap_event(event.data) for event in decoder.close())
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._upstream.aclose()


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
        inner = dict(payload["response"])
        if "responseId" not in inner and isinstance(payload.get("traceId"), str):
            inner["responseId"] = payload["traceId"]
        return inner
    return payload


def _unwrap_event(data: bytes) -> bytes:
    if not data:
        return b""
    try:
        payload = _json.decode(data)
    except (msgspec.DecodeError, UnicodeError):
        return b"data: " + data + b"\n\n"
    return b"data: " + msgspec.json.encode(_unwrap(payload)) + b"\n\n"


class GeminiCliExecutor(OAuthExecutor):
    """Posts the envelope to `{base}/v1internal:{method}` with the account's Bearer token."""

    dialect = Format.GEMINI
    provider = "gemini-cli"

    def __init__(
        self,
        clients: HttpClients,
        global_proxy: str,
        timeouts: UpstreamTimeouts,
        tokens: TokenSource,
        quota: QuotaExceeded,
    ) -> None:
        super().__init__(clients, global_proxy, timeouts, tokens)
        self._quota = quota

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """The Gemini CLI client identity."""
        return dict(_HEADERS)

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """One call, moving to the next project and then the preview model on quota."""
        if call.action is Action.EMBED:
            raise ClientRequestError("gemini-cli accounts have no embeddings API", param="model")
        if not grant.project and call.action is not Action.COUNT_TOKENS:
            grant = await self._tokens.remember_project(
                credential, await self._discover(call, grant)
            )
        model = call.upstream_model
        while True:
            try:
                return await self._exchange(call, grant, model)
            except UpstreamFailure as failure:
                if failure.status != 429 or call.action is Action.COUNT_TOKENS:
                    raise
                moved = None
                if self._quota.switch_project:
                    moved = await self._tokens.next_project(credential, grant.project)
                if moved is not None:
                    log.warning(
                        "quota of %s on project %s: switching to %s",
                        credential.id,
                        grant.project,
                        moved.project,
                    )
                    grant = moved
                    continue
                preview = PREVIEW_FALLBACKS.get(model)
                if not self._quota.switch_preview_model or preview is None:
                    wait = retry_delay(failure.body)
                    if wait is not None and "retry-after" not in failure.headers:
                        failure.headers["retry-after"] = f"{wait:g}"
                    raise
                log.warning("quota of %s on %s: falling back to %s", credential.id, model, preview)
                model = preview

    async def _exchange(self, call: UpstreamCall, grant: Grant, model: str) -> httpx.Response:
        url = f"{upstream_url('gemini.code-assist')}/v1internal:{_method(call)}"
        body = msgspec.json.encode(envelope(call, model, grant.project))
        auth = {"authorization": f"Bearer {grant.access_token.reveal()}"}
        response = await self.post(call, url, auth, body, secrets=grant.secrets())
        if call.action is Action.COUNT_TOKENS:
            return response
        if call.stream:
            return httpx.Response(
                response.status_code,
                headers=[
                    (n, v) for n, v in response.headers.items() if n.lower() != "content-length"
                ],
                stream=UnwrappedStream(response),
            )
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            raise UpstreamFailure(
                f"reading the answer failed ({type(exc).__name__})", status=None
            ) from None
        finally:
            await response.aclose()
        try:
            unwrapped = msgspec.json.encode(_unwrap(_json.decode(raw)))
        except (msgspec.DecodeError, UnicodeError):
            raise UpstreamFailure("unreadable Code Assist answer", status=502) from None
        return rewrap(response, unwrapped, "application/json")

    async def _discover(self, call: UpstreamCall, grant: Grant) -> str:
        """The account's Code Assist project: loadCodeAssist, else onboardUser (free tier)."""
        loaded = await self._setup(call, grant, "loadCodeAssist", {"metadata": _METADATA})
        project = _project_of(loaded.get("cloudaicompanionProject"))
        if project:
            return project
        tier = next(
            (
                t.get("id")
                for t in loaded.get("allowedTiers") or []
                if isinstance(t, dict) and t.get("isDefault")
            ),
            "free-tier",
        )
        request = {"tierId": tier, "metadata": _METADATA}
        for _ in range(_ONBOARD_POLLS):
            operation = await self._setup(call, grant, "onboardUser", request)
            if operation.get("done"):
                response = operation.get("response") or {}
                project = _project_of(response.get("cloudaicompanionProject"))
                if project:
                    return project
                break
            await asyncio.sleep(1.0)
        raise UpstreamFailure("Code Assist assigned the account no project", status=403)

    async def _setup(
        self, call: UpstreamCall, grant: Grant, method: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        client = self.client_for(call.credential)
        headers = {
            **_HEADERS,
            "authorization": f"Bearer {grant.access_token.reveal()}",
            "content-type": "application/json",
        }
        url = f"{upstream_url('gemini.code-assist')}/v1internal:{method}"
        built = client.build_request(
            "POST", url, content=msgspec.json.encode(request), headers=headers
        )
        response = await open_upstream(client, built, grant.secrets(), self.dialect)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        try:
            decoded = _json.decode(raw)
        except (msgspec.DecodeError, UnicodeError):
            raise UpstreamFailure(f"unreadable {method} answer", status=502) from None
        return decoded if isinstance(decoded, dict) else {}


def retry_delay(body: bytes) -> float | None:
    """Seconds from a Google error's `RetryInfo.retryDelay` ("0.84s"), else `quotaResetDelay`."""
    try:
        decoded = _json.decode(body)
    except (msgspec.DecodeError, UnicodeError):
        return None
    if isinstance(decoded, list) and decoded:
        decoded = decoded[0]
    error = decoded.get("error") if isinstance(decoded, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        delay = detail.get("retryDelay")
        if delay is None and isinstance(detail.get("metadata"), dict):
            delay = detail["metadata"].get("quotaResetDelay")
        seconds = _duration(delay)
        if seconds is not None:
            return seconds
    return None


def _duration(value: object) -> float | None:
    """A Go-style duration ("0.84s", "1500ms") in seconds."""
    if not isinstance(value, str):
        return None
    scale = 0.001 if value.endswith("ms") else 1.0
    try:
        return max(0.0, float(value.removesuffix("ms").removesuffix("s")) * scale)
    except ValueError:
        return None


def _project_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return ""
