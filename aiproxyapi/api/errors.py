"""One renderer for every error: the caller's dialect, the right status, never a stack trace."""

from __future__ import annotations

import logging
import secrets

from litestar import Response
from litestar.exceptions import HTTPException

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.teach import teach
from aiproxyapi.errors import Blame, ClientRequestError, GatewayError, UpstreamError
from aiproxyapi.formats import Format, codec_for, openai_chat
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.logs import REQUEST_ID

__all__ = ["dialect_for_path", "render_gateway_error", "render_http_exception", "render_unexpected"]

log = logging.getLogger("aiproxyapi.api")

_HTTP_CODES = {
    404: ("not_found", "invalid_request_error"),
    405: ("method_not_allowed", "invalid_request_error"),
    413: ("request_too_large", "invalid_request_error"),
}


def dialect_for_path(path: str) -> Format:
    """The dialect a path speaks, so errors come back in the shape its clients parse."""
    if path.startswith(("/v1/messages", "/anthropic")):
        return Format.CLAUDE
    if path.startswith(("/v1beta", "/v1internal")):
        return Format.GEMINI
    if path.startswith("/v1/responses"):
        return Format.OPENAI_RESPONSES
    return Format.OPENAI_CHAT


def _request_id(request: HttpRequest) -> str:
    current = REQUEST_ID.get()
    return current if current != "-" else secrets.token_hex(8)


def error_response(request: HttpRequest, error: GatewayError) -> Response[bytes]:
    """The response for a gateway error in the dialect of the request's path."""
    dialect = dialect_for_path(request.url.path)
    if isinstance(error, ClientRequestError) and error.code == "invalid_request":
        error = teach(error, request.url.path, dialect)
    headers = dict(error.headers)
    headers["x-request-id"] = _request_id(request)
    if isinstance(error, UpstreamError) and error.blame is Blame.CLIENT and error.body:
        if error.dialect == dialect.value:
            # The upstream's own verdict on the client's request, relayed as it is (key redacted).
            return Response(
                error.body, status_code=error.status, media_type=error.content_type, headers=headers
            )
        if error.dialect:
            info = codec_for(Format(error.dialect)).decode_error(error.status, error.body)
            info.status = error.status
            body = codec_for(dialect).encode_error(info)
            return Response(
                body, status_code=error.status, media_type="application/json", headers=headers
            )
    if dialect is Format.OPENAI_CHAT:
        body = openai_chat.encode_error(error.message, error.kind, error.code, error.param)
    else:
        info = ErrorInfo(error.status, error.message, error.kind, error.code, param=error.param)
        body = codec_for(dialect).encode_error(info)
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)


def render_gateway_error(request: HttpRequest, exc: Exception) -> Response[bytes]:
    """Exception handler for GatewayError."""
    assert isinstance(exc, GatewayError)
    return error_response(request, exc)


def render_http_exception(request: HttpRequest, exc: Exception) -> Response[bytes]:
    """Exception handler for the framework's own HTTP errors (unknown route, wrong method...)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code, kind = _HTTP_CODES.get(status, ("invalid_request", "invalid_request_error"))
    if status >= 500:
        code, kind = "internal_error", "server_error"
    message = exc.detail if status < 500 else "internal error"
    if status == 404:
        message = f"no route for {request.method} {request.url.path}"
    error = GatewayError(message, status=status, code=code, kind=kind, headers=exc.headers or {})
    return error_response(request, error)


def render_unexpected(request: HttpRequest, exc: Exception) -> Response[bytes]:
    """Last resort: log the failure, answer a generic 500 that reveals nothing."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = GatewayError("internal error; see the gateway log for this request id", status=500)
    return error_response(request, error)
