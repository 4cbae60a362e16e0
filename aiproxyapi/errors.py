"""Gateway errors, each carrying whose fault it is.

The pool decides what to do with a failure from its blame alone, and one renderer turns any
``GatewayError`` into the error body of the caller's dialect::

    GatewayError
    ├── ClientRequestError      the caller's request is wrong (400, 401, 404, 413, 415)
    ├── CooldownError           every credential for the model is cooling (429 + Retry-After)
    ├── NoCredentialError       nothing can serve the model right now (503)
    └── UpstreamError           an upstream answered with an error or could not be reached
"""

from __future__ import annotations

import enum

__all__ = [
    "Blame",
    "ClientRequestError",
    "CooldownError",
    "GatewayError",
    "NoCredentialError",
    "UpstreamError",
    "UpstreamFailure",
]


class Blame(enum.Enum):
    """Whose fault a failure is; drives cooldown, rotation and what the client sees."""

    CLIENT = "client"
    CREDENTIAL = "credential"
    QUOTA = "quota"
    UPSTREAM = "upstream"
    TRANSPORT = "transport"
    GATEWAY = "gateway"


class GatewayError(Exception):
    """An error the gateway answers with, rendered in the caller's dialect."""

    blame = Blame.GATEWAY

    def __init__(
        self,
        message: str,
        *,
        status: int = 500,
        code: str = "internal_error",
        kind: str = "server_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.kind = kind
        self.param = param
        self.headers = headers or {}


class ClientRequestError(GatewayError):
    """The caller's own request is at fault; nothing upstream is touched or penalised."""

    blame = Blame.CLIENT

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "invalid_request",
        kind: str = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, kind=kind, param=param, headers=headers)


class CooldownError(GatewayError):
    """Every credential that serves the model is cooling down."""

    blame = Blame.QUOTA

    def __init__(self, model: str, provider: str, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(
            f"All credentials for model {model} are cooling down via provider {provider}",
            status=429,
            code="model_cooldown",
            kind="rate_limit_error",
            headers={"Retry-After": str(seconds)},
        )
        self.model = model
        self.provider = provider
        self.retry_after = seconds


class NoCredentialError(GatewayError):
    """No credential can serve the model (all disabled or failed without cooling)."""

    blame = Blame.GATEWAY

    def __init__(self, model: str) -> None:
        super().__init__(
            f"no credential is available for model {model}",
            status=503,
            code="auth_unavailable",
            kind="server_error",
        )


class UpstreamError(GatewayError):
    """An upstream failed: an error status, or no answer at all (status 502/504)."""

    def __init__(
        self,
        message: str,
        *,
        blame: Blame,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        dialect: str = "",
    ) -> None:
        code = "upstream_timeout" if status == 504 else "upstream_error"
        super().__init__(message, status=status, code=code, kind="upstream_error", headers=headers)
        self.blame = blame
        self.body = body
        self.content_type = content_type
        self.dialect = dialect
        """The dialect `body` is written in (the upstream's), empty when the gateway wrote it."""


class UpstreamFailure(Exception):
    """One failed upstream attempt, before the pool has judged it (internal, never rendered)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
        timed_out: bool = False,
        dialect: str = "",
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.dialect = dialect
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.content_type = content_type
        self.timed_out = timed_out
