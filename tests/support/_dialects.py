"""One codec per upstream dialect: auth, strictness, errors and answers, behind one Protocol.

The table at the bottom is the support matrix; the Responder only ever talks to a ``Codec``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from . import _validate, claude_wire, gemini_wire, openai_wire, responses_wire
from ._answer import Answer
from ._http11 import HttpRequest
from ._routes import Route
from .embeddings_wire import estimate_tokens, openai_embedding_inputs, openai_embeddings_body
from .openai_wire import ChatToolCall, chunk_events, completion_body, dumps
from .replies import Dialect, RecordedRequest

__all__ = ["CODECS", "Codec", "EventStream", "JsonBody"]


@dataclass(frozen=True)
class JsonBody:
    """A complete JSON answer, sent with Content-Length."""

    body: Any


@dataclass(frozen=True)
class EventStream:
    """A streamed answer: each frame goes out in its own HTTP chunk (resets count frames)."""

    frames: list[bytes]
    content_type: str = "text/event-stream"


def data_frame(obj: Any, newline: bytes = b"\n\n") -> bytes:
    """An SSE event with only a ``data:`` line (Chat, Gemini)."""
    return b"data: " + dumps(obj) + newline


def event_frame(obj: dict[str, Any]) -> bytes:
    """An SSE event whose ``event:`` name repeats the payload's type (Responses, Anthropic)."""
    return b"event: " + obj["type"].encode() + b"\ndata: " + dumps(obj) + b"\n\n"


class Codec(Protocol):
    """How one dialect authenticates, validates, fails and answers."""

    default_model: str
    retry_header: bool  # whether Reply.error(retry_after=...) becomes a retry-after header

    def headers(self, serial: int) -> list[tuple[str, str]]:
        """Headers the real service puts on every response."""

    def error_body(self, status: int, message: str | None, retry_after: float | None) -> Any:
        """The dialect's error envelope."""

    def refuse(self, request: HttpRequest, key: str | None) -> tuple[int, str] | None:
        """(status, message) when the credential or a required header is missing."""

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        """The 400 message for a body the real service refuses, else None."""

    def models(self, ids: list[str]) -> Any:
        """The models list."""

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        """A generation answer."""

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        """A count_tokens or embeddings answer."""


class _OpenAIBase:
    default_model = "gpt-4o"
    retry_header = True

    def headers(self, serial: int) -> list[tuple[str, str]]:
        return [("x-request-id", f"req_fake_{serial}"), ("openai-version", "2020-10-01")]

    def error_body(self, status: int, message: str | None, retry_after: float | None) -> Any:
        return openai_wire.error_body(status, message)

    def refuse(self, request: HttpRequest, key: str | None) -> tuple[int, str] | None:
        return None if key is not None else (401, "You didn't provide an API key.")

    def models(self, ids: list[str]) -> Any:
        return openai_wire.models_body(ids)


class OpenAIChat(_OpenAIBase):
    """``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models`` (§1, §3)."""

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        if route.endpoint == "embeddings":
            inputs = openai_embedding_inputs(body)
            return inputs if isinstance(inputs, str) else _validate.openai_embeddings(body)
        return _validate.chat(body)

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        common: dict[str, Any] = {
            "id": f"chatcmpl-fake{answer.serial}",
            "created": int(time.time()),
            "model": answer.model,
            "finish_reason": answer.finish_reason,
            "tool_calls": [
                ChatToolCall(answer.call_id(i, "call_"), call.name, call.arguments_json)
                for i, call in enumerate(answer.tool_calls)
            ],
        }
        if not record.stream:
            body = completion_body(
                text=answer.text, usage=answer.usage, reasoning=answer.thinking, **common
            )
            return JsonBody(body)
        options = record.json.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        chunks = chunk_events(
            pieces=answer.text_pieces,
            reasoning_pieces=answer.thinking_pieces,
            usage=answer.usage if include_usage else None,
            **common,
        )
        return EventStream([*map(data_frame, chunks), b"data: [DONE]\n\n"])

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        texts = openai_embedding_inputs(body)
        assert isinstance(texts, list)  # check() refused the other case
        return openai_embeddings_body(
            texts,
            model=str(body["model"]),
            encoding_format=body.get("encoding_format", "float"),
            dimensions=body.get("dimensions"),
        )


class OpenAIResponses(_OpenAIBase):
    """``/v1/responses`` (§2)."""

    codex = False

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        return _validate.responses(body)

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        body, now = record.json, int(time.time())
        if not record.stream:
            output = responses_wire.output_items(answer, body)
            return JsonBody(
                responses_wire.response_object(
                    answer, body, created_at=now, output=output, final=True
                )
            )
        events = responses_wire.stream_events(answer, body, created_at=now, codex=self.codex)
        return EventStream([event_frame(event) for event in events])

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        raise AssertionError("no measuring endpoint")


class Codex(OpenAIResponses):
    """``/backend-api/codex/responses`` (§7): stream-only Responses with FastAPI-style errors."""

    codex = True
    default_model = "gpt-5-codex"
    retry_header = False

    def error_body(self, status: int, message: str | None, retry_after: float | None) -> Any:
        return responses_wire.codex_error_body(status, message, retry_after=retry_after)

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        return _validate.codex(body)

    def models(self, ids: list[str]) -> Any:
        return {"models": [{"slug": model} for model in ids]}


class Claude:
    """``/v1/messages``, ``/v1/messages/count_tokens``, models with ``anthropic-version`` (§4)."""

    default_model = "claude-sonnet-4-5"
    retry_header = True

    def headers(self, serial: int) -> list[tuple[str, str]]:
        return [("request-id", f"req_fake{serial}"), ("anthropic-organization-id", "org-fake")]

    def error_body(self, status: int, message: str | None, retry_after: float | None) -> Any:
        return claude_wire.error_body(status, message)

    def refuse(self, request: HttpRequest, key: str | None) -> tuple[int, str] | None:
        if key is None:
            return 401, "x-api-key header is required"
        if request.header("anthropic-version") is None:
            return 400, "anthropic-version: header is required"
        # A Bearer token alone is accepted: anthropic-sdk-python 2.x sends API keys that way,
        # so the §8 "Bearer needs the oauth beta" refusal would fail the official client.
        return None

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        return _validate.claude(body, count_tokens=route.endpoint == "count_tokens")

    def models(self, ids: list[str]) -> Any:
        return claude_wire.models_body(ids)

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        if not record.stream:
            return JsonBody(claude_wire.message_body(answer))
        return EventStream([event_frame(e) for e in claude_wire.stream_events(answer)])

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        return {"input_tokens": estimate_tokens(body)}


class Gemini:
    """``models/{model}:{action}`` on the Gemini API and Vertex publisher paths (§5)."""

    default_model = "gemini-2.5-flash"
    retry_header = False  # Gemini sends none; the hint is RetryInfo in the body (§5.6)

    def headers(self, serial: int) -> list[tuple[str, str]]:
        return [("x-goog-request-id", f"fake{serial}")]

    def error_body(self, status: int, message: str | None, retry_after: float | None) -> Any:
        return gemini_wire.error_body(status, message, retry_after=retry_after)

    def refuse(self, request: HttpRequest, key: str | None) -> tuple[int, str] | None:
        if key is None:
            return 403, (
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API."
            )
        return None

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        if route.endpoint != "embeddings":
            return _validate.gemini(body, route.action)
        if route.action == "batchEmbedContents" and not isinstance(body.get("requests"), list):
            return "* BatchEmbedContentsRequest.requests: requests is not specified\n"
        return None

    def models(self, ids: list[str]) -> Any:
        return gemini_wire.models_body(ids)

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        if route.action == "generateContent":
            return JsonBody(gemini_wire.response_body(answer))
        chunks = gemini_wire.stream_chunks(answer)
        if "alt=sse" in record.query.split("&"):
            return EventStream([data_frame(chunk, b"\r\n\r\n") for chunk in chunks])
        # Without alt=sse the stream is one JSON array written out progressively (§5.1).
        frames = [(b"[" if i == 0 else b",\r\n") + dumps(c) for i, c in enumerate(chunks)]
        frames[-1] += b"]"
        return EventStream(frames, content_type="application/json")

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        if route.endpoint == "count_tokens":
            return gemini_wire.count_tokens_body(estimate_tokens(body))
        return gemini_wire.embed_body(body, batch=route.action == "batchEmbedContents")


class CodeAssist(Gemini):
    """Gemini CLI's ``/v1internal:{method}`` (§6): the Gemini body inside ``{model, project, request}``."""

    onboarded_project = "fake-onboarded-project"

    def refuse(self, request: HttpRequest, key: str | None) -> tuple[int, str] | None:
        if key is None:
            return 401, "Request is missing required authentication credential."
        return None

    def check(self, route: Route, body: dict[str, Any]) -> str | None:
        if route.endpoint == "setup":
            return None
        inner = body.get("request")
        if not isinstance(inner, dict):
            return "Invalid JSON payload received. Unknown name: `request` is required."
        if route.endpoint == "count_tokens":
            if "project" in body or "model" in body:
                return 'Invalid JSON payload received. Unknown name "project": Cannot find field.'
            return None
        if not isinstance(body.get("project"), str) or not body["project"]:
            return "Permission denied: a Code Assist project is required."
        if not isinstance(body.get("model"), str) or body["model"].startswith("models/"):
            return "Invalid model: a bare model id is required."
        return _validate.gemini(inner, route.action)

    def answer(
        self, route: Route, record: RecordedRequest, answer: Answer
    ) -> JsonBody | EventStream:
        trace = f"trace-fake{answer.serial}"
        if route.action == "generateContent":
            return JsonBody({"response": gemini_wire.response_body(answer), "traceId": trace})
        chunks = [{"response": c, "traceId": trace} for c in gemini_wire.stream_chunks(answer)]
        if "alt=sse" in record.query.split("&"):
            return EventStream([data_frame(chunk, b"\r\n\r\n") for chunk in chunks])
        frames = [(b"[" if i == 0 else b",\r\n") + dumps(c) for i, c in enumerate(chunks)]
        frames[-1] += b"]"
        return EventStream(frames, content_type="application/json")

    def measure(self, route: Route, body: dict[str, Any]) -> Any:
        return gemini_wire.count_tokens_body(estimate_tokens(body["request"]))

    def setup(self, route: Route, body: dict[str, Any]) -> Any:
        """loadCodeAssist finds no project (a new account); onboardUser provisions one."""
        if route.action == "loadCodeAssist":
            return {"allowedTiers": [{"id": "free-tier", "isDefault": True}]}
        project = {"id": self.onboarded_project, "name": "Fake project"}
        return {"done": True, "response": {"cloudaicompanionProject": project}}


CODECS: dict[Dialect, Codec] = {
    "openai": OpenAIChat(),
    "openai-responses": OpenAIResponses(),
    "codex": Codex(),
    "claude": Claude(),
    "gemini": Gemini(),
    "code-assist": CodeAssist(),
    "token-exchange": OpenAIChat(),  # only its error envelope is used
}
