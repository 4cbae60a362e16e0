"""Auth records in CLIProxyAPI's format, one builder per type, for unit and end-to-end tests."""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any

__all__ = ["codex_id_token", "record", "record_bytes", "rsa_test_key"]


def codex_id_token(account_id: str) -> str:
    """An unsigned JWT carrying the ChatGPT account claim (the gateway only reads the claim)."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {"https://api.openai.com/auth": {"chatgpt_account_id": account_id}}
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def record(
    kind: str, token: str = "tok-1", *, expires_in: float = 30 * 86400, **extra: Any
) -> dict[str, Any]:
    """A record of `kind` whose access token is `token`, expiring in `expires_in` seconds (30 days:
    beyond every refresh lead time, so nothing refreshes unless a test says so)."""
    expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
    base: dict[str, Any]
    if kind == "claude":
        base = {"access_token": token, "refresh_token": f"r-{token}", "email": "a@b.com"}
    elif kind == "codex":
        base = {
            "access_token": token,
            "refresh_token": f"r-{token}",
            "id_token": codex_id_token("acct-123"),
            "email": "c@d.com",
        }
    elif kind == "gemini":
        base = {
            "token": {"access_token": token, "refresh_token": f"r-{token}", "expiry": expired},
            "project_id": "proj-a",
            "email": "g@h.com",
        }
    elif kind == "qwen":
        base = {
            "access_token": token,
            "refresh_token": f"r-{token}",
            "resource_url": "portal.qwen.ai",
        }
    elif kind == "iflow":
        base = {"access_token": f"oauth-{token}", "api_key": token, "email": "i@f.com"}
    elif kind == "copilot":
        base = {"access_token": token}
    elif kind == "vertex":
        base = {
            "service_account": {
                "type": "service_account",
                "client_email": "sa@proj-v.iam.gserviceaccount.com",
                "private_key": rsa_test_key(),
                "private_key_id": "k1",
                "project_id": "proj-v",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            "project_id": "proj-v",
            "location": "us-central1",
        }
    else:
        raise ValueError(kind)
    base.setdefault("expired", expired)
    return {"type": kind, **base, **extra}


def record_bytes(kind: str, token: str = "tok-1", **extra: Any) -> bytes:
    """`record(...)` as the JSON bytes of an auth file."""
    return json.dumps(record(kind, token, **extra), indent=2).encode()


@functools.cache
def rsa_test_key() -> str:
    """A throwaway RSA key made for this test run (never a key kept in the repository)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
