"""Executor for ChatGPT-plan accounts: the Codex backend Responses endpoint, wire-formats §7.

The backend only streams and refuses stored responses, so every body goes up with
`stream: true`, `store: false` and an `instructions` string, without the parameters it rejects.
A client that did not ask for a stream gets the final response assembled from the events.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import msgspec

from aiproxyapi.credential import OAuthCredential
from aiproxyapi.endpoints import upstream_url
from aiproxyapi.errors import ClientRequestError, UpstreamFailure
from aiproxyapi.executors.base import Action, UpstreamCall, read_answer
from aiproxyapi.executors.oauth import Grant, OAuthExecutor, json_body, rewrap
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.sse import SSEDecoder

__all__ = [
    "CODEX_VERSION",
    "CodexBackendExecutor",
    "assemble_response",
    "codex_body",
    "usage_limit_wait",
]

CODEX_VERSION = "0.50.0"
_UNSUPPORTED = (
    "max_output_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "truncation",
    "user",
    "safety_identifier",
    "stream_options",
    "prompt_cache_retention",
    "prompt_cache_options",
    "previous_response_id",
)
_json = msgspec.json.Decoder()


def codex_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses body the Codex backend accepts (§7.2)."""
    out = {key: value for key, value in body.items() if key not in _UNSUPPORTED}
    out["stream"] = True
    out["store"] = False
    if not isinstance(out.get("instructions"), str):
        out["instructions"] = ""
    if out.get("service_tier") not in (None, "priority"):
        del out["service_tier"]
    items = out.get("input")
    if isinstance(items, str):
        out["input"] = [{"role": "user", "content": [{"type": "input_text", "text": items}]}]
    elif isinstance(items, list):
        out["input"] = [_developer(item) for item in items]
    return out


def _developer(item: Any) -> Any:
    if isinstance(item, dict):
        item = {k: v for k, v in item.items() if k != "prompt_cache_breakpoint"}
        if item.get("role") == "system":
            item["role"] = "developer"
        content = item.get("content")
        if isinstance(content, list):
            item["content"] = [
                {k: v for k, v in part.items() if k != "prompt_cache_breakpoint"}
                if isinstance(part, dict)
                else part
                for part in content
            ]
    return item


def assemble_response(raw: bytes) -> dict[str, Any]:
    """The final response object of a Codex event stream, its `output` rebuilt when empty."""
    decoder = SSEDecoder()
    done_items: dict[int, Any] = {}
    final: dict[str, Any] | None = None
    for event in [*decoder.feed(raw), *decoder.close()]:
        if not event.data or event.data.strip() == b"[DONE]":
            continue
        try:
            payload = _json.decode(event.data)
        except (msgspec.DecodeError, UnicodeError):
            continue
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if kind == "response.output_item.done" and isinstance(payload.get("item"), dict):
            done_items[int(payload.get("output_index", len(done_items)))] = payload["item"]
        elif kind in ("response.completed", "response.incomplete") and isinstance(
            payload.get("response"), dict
        ):
            final = dict(payload["response"])
        elif kind in ("response.failed", "error"):
            raise UpstreamFailure("the Codex stream reported a failure", status=502)
    if final is None:
        # §7.2: a stream that ends before response.completed is an error (408 like the reference).
        raise UpstreamFailure("stream closed before response.completed", status=408)
    if not final.get("output") and done_items:
        final["output"] = [done_items[index] for index in sorted(done_items)]
    return final


def usage_limit_wait(body: bytes, now: float) -> float | None:
    """Seconds until a `usage_limit_reached` 429 resets (`resets_in_seconds` or `resets_at`)."""
    try:
        error = _json.decode(body).get("error")
    except (msgspec.DecodeError, UnicodeError, AttributeError):
        return None
    if not isinstance(error, dict) or error.get("type") != "usage_limit_reached":
        return None
    seconds = error.get("resets_in_seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return float(seconds)
    at = error.get("resets_at")
    if isinstance(at, int | float) and not isinstance(at, bool):
        return max(0.0, float(at) - now)
    return None


class CodexBackendExecutor(OAuthExecutor):
    """Posts to `{backend}/responses` with the account's Bearer token and Codex headers."""

    dialect = Format.OPENAI_RESPONSES
    provider = "codex"

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """originator, session_id and version, taking the client's own when it sent them."""
        sent = {name.lower(): value for name, value in call.forward_headers}
        session = sent.get("session_id") or sent.get("session-id") or sent.get("conversation_id")
        return {
            "originator": sent.get("originator", "codex_cli_rs"),
            "session_id": session or str(uuid.uuid4()),
            "version": sent.get("version", CODEX_VERSION),
            "user-agent": f"codex_cli_rs/{CODEX_VERSION}",
        }

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """Always a stream upstream; a non-streaming call gets the assembled response."""
        if call.action is not Action.GENERATE:
            raise ClientRequestError("codex accounts serve responses only", param="model")
        body = msgspec.json.encode(codex_body(json_body(call.body)))
        auth = {"authorization": f"Bearer {grant.access_token.reveal()}"}
        if credential.account_id:
            auth["chatgpt-account-id"] = credential.account_id
        url = f"{upstream_url('codex.api')}/responses"
        try:
            response = await self.post(
                call, url, auth, body, secrets=grant.secrets(), accept="text/event-stream"
            )
        except UpstreamFailure as failure:
            if failure.status == 429 and "retry-after" not in failure.headers:
                wait = usage_limit_wait(failure.body, time.time())
                if wait is not None:
                    failure.headers["retry-after"] = f"{wait:.0f}"
            raise
        if call.stream:
            return response
        try:
            raw = await read_answer(response, what="reading the Codex stream")
        finally:
            await response.aclose()
        final = msgspec.json.encode(assemble_response(raw))
        return rewrap(response, final, "application/json")
