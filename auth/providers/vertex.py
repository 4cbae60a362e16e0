"""Vertex AI with a service account: import the key file, mint access tokens from it.

Record ``vertex-<project>.json``: ``{type:"vertex", service_account:{...key file...},
project_id, email, location, prefix?}``. An access token is minted with a signed JWT (RS256,
``cloud-platform`` scope) at the token endpoint; it lives an hour.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import TYPE_CHECKING, Any

import httpx

from auth._oauth import post_token
from auth.endpoints import CLIENTS, ENDPOINTS, url
from auth.errors import AuthFlowError
from auth.records import LoginResult, record_name, save_record
from storage import Store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "DEFAULT_LOCATION",
    "import_service_account",
    "mint_access_token",
    "signed_assertion",
    "validate_service_account",
]

DEFAULT_LOCATION = "us-central1"
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LIFETIME = 3600
_REQUIRED = ("project_id", "client_email", "private_key")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _private_key(service_account: dict[str, Any]) -> rsa.RSAPrivateKey:
    # cryptography loads with the first Vertex token, not at start-up.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(
            str(service_account.get("private_key", "")).encode(), password=None
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuthFlowError("the service account's private_key is not a PEM RSA key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthFlowError("the service account's private_key is not an RSA key")
    return key


def _token_url(service_account: dict[str, Any]) -> str:
    if os.environ.get(ENDPOINTS["vertex.token"].env):
        return url("vertex.token")
    return str(service_account.get("token_uri") or url("vertex.token"))


def signed_assertion(
    service_account: dict[str, Any], *, audience: str, scope: str, now: float | None = None
) -> str:
    """The RS256-signed JWT a service account presents for an access token."""
    issued = int(time.time() if now is None else now)
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if service_account.get("private_key_id"):
        header["kid"] = str(service_account["private_key_id"])
    claims = {
        "iss": service_account["client_email"],
        "scope": scope,
        "aud": audience,
        "iat": issued,
        "exp": issued + _LIFETIME,
    }
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = _private_key(service_account).sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64(signature)}"


async def mint_access_token(
    service_account: dict[str, Any], *, client: httpx.AsyncClient
) -> tuple[str, float]:
    """A fresh access token for the service account and its expiry (epoch seconds)."""
    endpoint = _token_url(service_account)
    assertion = signed_assertion(service_account, audience=endpoint, scope=CLIENTS["vertex"].scope)
    answer = await post_token(
        client, endpoint, _JWT_GRANT, what="the service-account token request", assertion=assertion
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthFlowError("the token endpoint answered without an access token")
    return token, time.time() + float(answer.get("expires_in") or _LIFETIME)


def validate_service_account(data: bytes) -> dict[str, Any]:
    """The parsed key file, or AuthFlowError naming what is wrong with it."""
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise AuthFlowError("the file is not JSON; pass the service-account key file") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "service_account":
        raise AuthFlowError(
            'the file is not a service-account key ("type" must be "service_account")'
        )
    missing = [k for k in _REQUIRED if not isinstance(parsed.get(k), str) or not parsed[k]]
    if missing:
        raise AuthFlowError(f"the service-account key lacks {', '.join(missing)}")
    _private_key(parsed)
    return parsed


async def import_service_account(
    data: bytes, *, store: Store, location: str | None = None, prefix: str | None = None
) -> LoginResult:
    """``--vertex-import FILE``: validate the key and write ``vertex-<project>.json``."""
    service_account = validate_service_account(data)
    project = service_account["project_id"]
    record: dict[str, Any] = {
        "type": "vertex",
        "service_account": service_account,
        "project_id": project,
        "email": service_account["client_email"],
        "location": location or DEFAULT_LOCATION,
    }
    if prefix:
        record["prefix"] = prefix
    name = record_name("vertex", project)
    where = await save_record(store, name, record)
    return LoginResult(name, f"{service_account['client_email']} [{project}]", record, where)
