"""OAuth client pieces every flow shares: PKCE, authorization URLs, token requests, JWT claims.

PKCE, state, the authorization URL and the form body of a token request come from authlib; the
request itself goes through the caller's ``httpx.AsyncClient`` (its proxy and timeouts apply).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

# authlib (and cryptography beneath it) loads with the first login or refresh, not at start-up.

__all__ = [
    "Pkce",
    "TokenError",
    "authorization_url",
    "expiry_of",
    "jwt_claims",
    "new_state",
    "obj",
    "parse_time",
    "post_token",
    "read_json",
    "rfc3339",
    "seconds",
]

_FORM = "application/x-www-form-urlencoded"
# Error codes of RFC 6749 §5.2 after which the same grant can never succeed.
_PERMANENT = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair (RFC 7636, method S256)."""

    verifier: str
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        """A fresh 64-character verifier and its S256 challenge."""
        from authlib.common.security import generate_token
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        verifier: str = generate_token(64)
        return cls(verifier, str(create_s256_code_challenge(verifier)))


def new_state() -> str:
    """An unguessable ``state`` value."""
    from authlib.common.security import generate_token

    return str(generate_token(32))


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str | None,
    scope: str | None,
    state: str,
    pkce: Pkce,
    extra: dict[str, str] | None = None,
) -> str:
    """The authorization-code request URL (RFC 6749 §4.1.1) with the PKCE challenge."""
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

    return str(
        prepare_grant_uri(
            endpoint,
            client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=scope or None,
            state=state,
            code_challenge=pkce.challenge,
            code_challenge_method=pkce.method,
            **(extra or {}),
        )
    )


@dataclass
class TokenError(Exception):
    """A token-endpoint call failed; carries no token, only status and the OAuth error code."""

    what: str
    status: int | None = None
    error: str | None = None
    description: str | None = None
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """What happened, for a person."""
        if self.status is None:
            return f"{self.what}: the server could not be reached ({self.description})"
        detail = f"{self.error}" if self.error else f"HTTP {self.status}"
        if self.description:
            detail += f": {self.description[:200]}"
        return f"{self.what} failed ({detail})"

    @property
    def permanent(self) -> bool:
        """Whether retrying the same grant cannot help (revoked or unknown token or client)."""
        if self.error in _PERMANENT:
            return True
        return self.status in (401, 403) and self.error is None


def obj(value: object) -> dict[str, Any]:
    """The value if it is a JSON object, else {} (answers are read defensively)."""
    return value if isinstance(value, dict) else {}


def seconds(value: object, default: float) -> float:
    """A duration a server sent (number or numeric string); ``default`` when it is neither."""
    if isinstance(value, bool):
        return default
    try:
        found = float(value) if isinstance(value, int | float | str) else default
    except ValueError:
        return default
    return found if found >= 0 else default


def read_json(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object; {} when it is not one."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


async def post_token(
    client: httpx.AsyncClient,
    endpoint: str,
    grant_type: str,
    *,
    what: str,
    json_body: bool = False,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
    **fields: str,
) -> dict[str, Any]:
    """POST a token request (form-encoded unless ``json_body``) and return the JSON answer.

    An error answer (any non-2xx, or a 2xx carrying ``error`` as GitHub sends) raises
    :class:`TokenError`; so does a transport failure (with ``status`` None).
    """
    send_headers = {"Accept": "application/json", **(headers or {})}
    try:
        if json_body:
            response = await client.post(
                endpoint,
                json={"grant_type": grant_type, **fields},
                headers=send_headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
            )
        else:
            from authlib.oauth2.rfc6749.parameters import prepare_token_request

            body = prepare_token_request(grant_type, **fields)
            send_headers["Content-Type"] = _FORM
            response = await client.post(
                endpoint,
                content=body.encode(),
                headers=send_headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
            )
    except httpx.HTTPError as exc:
        raise TokenError(what, None, None, type(exc).__name__) from None
    data = read_json(response)
    error = data.get("error")
    if response.is_success and not error:
        if not data:
            raise TokenError(what, response.status_code, None, "the answer was not JSON")
        return data
    code = error if isinstance(error, str) else None
    description = data.get("error_description")
    if not isinstance(description, str):
        description = error.get("message") if isinstance(error, dict) else None
    raise TokenError(what, response.status_code, code, description, data)


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT, unverified ({} when it is not one): used for display claims only."""
    if not token or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def rfc3339(epoch: float) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp (the ``expired`` field of records)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: object) -> float | None:
    """Epoch seconds from an RFC 3339 string, or from epoch seconds / milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return parse_time(float(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def expiry_of(data: dict[str, Any], *, now: float | None = None) -> float | None:
    """When a token answer expires: from ``expires_in``, else the access token's ``exp``."""
    start = time.time() if now is None else now
    expires_in = data.get("expires_in")
    try:
        if expires_in is not None and not isinstance(expires_in, bool):
            return start + float(expires_in)
    except (TypeError, ValueError):
        pass
    exp = jwt_claims(data.get("access_token")).get("exp")
    return float(exp) if isinstance(exp, int | float) else None
