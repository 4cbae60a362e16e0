"""The fake's token exchanges: Copilot's token for a GitHub token, Google's for a signed JWT.

Copilot: ``GET /copilot_internal/v2/token`` with ``Authorization: token <github token>`` answers
``{token, expires_at, endpoints: {api}}``, the API being this fake's ``/v1``. Vertex: ``POST
/vertex/token`` with the jwt-bearer grant answers ``{access_token, expires_in}`` after checking
the assertion is an RS256 JWT naming the service account. Issued tokens name what they came from.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

from ._http11 import HttpRequest

__all__ = ["exchange_token"]


def exchange_token(kind: str, request: HttpRequest, serial: int) -> tuple[int, Any]:
    """(status, JSON body) of one exchange."""
    if kind == "copilot":
        scheme, _, github = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "token" or not github.strip():
            return 401, {"message": "Bad credentials"}
        host = request.header("host") or "127.0.0.1"
        return 200, {
            "token": f"copilot-{github.strip()}-{serial}",
            "expires_at": int(time.time()) + 1800,
            "refresh_in": 1500,
            "endpoints": {"api": f"http://{host}/v1"},
        }
    form = parse_qs(request.body.decode("utf-8", "replace"))
    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
        return 400, {"error": "unsupported_grant_type"}
    claims = _claims(form.get("assertion", [""])[0])
    if claims is None or not claims.get("iss"):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    return 200, {
        "access_token": f"vertex-{claims['iss']}-{serial}",
        "expires_in": 3599,
        "token_type": "Bearer",
    }


def _claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3 or not parts[2]:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if header.get("alg") != "RS256" or not isinstance(claims, dict):
        return None
    return claims
