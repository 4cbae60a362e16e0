"""Auth records -> account records: CLIProxyAPI's JSON per type, read into typed parts.

A record is one JSON object with a `type` (claude, codex, gemini / gemini-cli, qwen, iflow,
copilot, vertex), the provider's tokens, and the generic fields any record may carry
(`disabled`, `prefix`, `proxy_url`, `priority`, `weight`, `headers`, `excluded_models`,
`model_aliases`; legacy kebab-case spellings are read too). What never changes at runtime
becomes the credential; the secrets become the grant the account book keeps live.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec

from aiproxyapi.config import channel_of
from aiproxyapi.credential import OAuthCredential, ProviderKind
from aiproxyapi.executors import Grant
from aiproxyapi.secret import Secret

__all__ = ["KIND_OF_CHANNEL", "AccountRecord", "RecordError", "grant_of", "parse_record"]

KIND_OF_CHANNEL: dict[str, ProviderKind] = {
    "claude": ProviderKind.CLAUDE_OAUTH,
    "codex": ProviderKind.CODEX_OAUTH,
    "gemini-cli": ProviderKind.GEMINI_CLI,
    "qwen": ProviderKind.QWEN,
    "iflow": ProviderKind.IFLOW,
    "copilot": ProviderKind.COPILOT,
    "vertex": ProviderKind.VERTEX_SA,
}

_MINTED = frozenset({"copilot", "vertex"})
"""Channels whose access token is derived at runtime, never stored in the record."""

_json = msgspec.json.Decoder()


class RecordError(ValueError):
    """An auth record that cannot be used; the message never quotes its content."""


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One parsed auth record: its credential (models not yet resolved) and its raw fields."""

    name: str
    channel: str
    credential: OAuthCredential
    disabled: bool
    aliases: tuple[tuple[str, str], ...]
    """The record's own `model_aliases` (name, alias), ahead of the channel's."""
    data: dict[str, Any]

    @property
    def minted(self) -> bool:
        """Whether the access token is derived at runtime (Copilot, Vertex) instead of stored."""
        return self.channel in _MINTED


def parse_record(name: str, raw: bytes) -> AccountRecord:
    """Parse one record; RecordError says what is wrong without quoting secrets."""
    try:
        data = _json.decode(raw)
    except (msgspec.DecodeError, UnicodeError):
        raise RecordError("not valid JSON") from None
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    data = _normalised(data)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise RecordError("no `type` field")
    channel = channel_of(kind)
    if channel not in KIND_OF_CHANNEL:
        raise RecordError(f"unknown type {kind[:40]!r}")
    grant_of(channel, data)  # the record must carry its secrets
    weight = _int(data, "weight", 1)
    if not 0 <= weight <= 1_000_000:
        raise RecordError("`weight` must be between 0 and 1000000")
    prefix = _str(data, "prefix").strip("/")
    if "/" in prefix or " " in prefix:
        raise RecordError("`prefix` is a single word without `/` or spaces")
    credential = OAuthCredential(
        id=name,
        kind=KIND_OF_CHANNEL[channel],
        provider=channel,
        label=_str(data, "email") or _service_email(data) or name,
        base_url=_base_url(channel, data),
        proxy_url=_str(data, "proxy_url"),
        headers=_headers(data),
        prefix=prefix,
        priority=_int(data, "priority", 0),
        weight=weight,
        excluded_models=_strings(data, "excluded_models"),
        account_id=_account_id(data) if channel == "codex" else "",
        projects=_projects(data),
        location=_str(data, "location") if channel == "vertex" else "",
    )
    return AccountRecord(
        name=name,
        channel=channel,
        credential=credential,
        disabled=data.get("disabled") is True,
        aliases=_aliases(data),
        data=data,
    )


def grant_of(channel: str, data: dict[str, Any], project: str = "") -> Grant:
    """The secrets of a record as a grant; RecordError when the record lacks them."""
    if channel == "vertex":
        account = data.get("service_account")
        if not isinstance(account, dict) or not account.get("private_key"):
            raise RecordError("no `service_account` with a `private_key`")
        return Grant(access_token=Secret(""), project=project)
    if channel == "gemini-cli" and isinstance(data.get("token"), dict):
        token = _str(data["token"], "access_token")
    elif channel == "copilot":
        token = _str(data, "github_token") or _str(data, "access_token")
    else:
        token = _str(data, "access_token")
    api_key = _str(data, "api_key") if channel == "iflow" else ""
    if not token and not api_key:
        raise RecordError("no access token")
    return Grant(access_token=Secret(token), api_key=Secret(api_key), project=project)


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    """Legacy kebab-case keys under their snake_case names (snake_case wins when both exist)."""
    out = dict(data)
    for key, value in data.items():
        if "-" in key:
            out.setdefault(key.replace("-", "_"), value)
    return out


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _int(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RecordError(f"`{key}` must be a number")
    try:
        return int(value)
    except ValueError:
        raise RecordError(f"`{key}` must be a number") from None


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"`{key}` must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _headers(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    value = data.get("headers") or {}
    if not isinstance(value, dict):
        raise RecordError("`headers` must be an object")
    pairs = []
    for name, text in value.items():
        if not isinstance(text, str) or any(ch in name + text for ch in "\r\n"):
            raise RecordError(f"header {name[:40]!r} is not a plain string")
        pairs.append((name, text))
    return tuple(pairs)


def _aliases(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    value = data.get("model_aliases") or []
    if not isinstance(value, list):
        raise RecordError("`model_aliases` must be a list")
    pairs = []
    for item in value:
        if not isinstance(item, dict):
            raise RecordError("`model_aliases` items are {name, alias} objects")
        name, alias = _str(item, "name"), _str(item, "alias")
        if name and alias:
            pairs.append((name, alias))
    return tuple(pairs)


def _projects(data: dict[str, Any]) -> tuple[str, ...]:
    value = data.get("project_id")
    if isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    elif isinstance(value, str):
        items = value.split(",")
    else:
        items = []
    if not items and isinstance(data.get("service_account"), dict):
        items = [_str(data["service_account"], "project_id")]
    # "ALL" asks for every project of the account: discovered at the first call.
    return tuple(p.strip() for p in items if p.strip() and p.strip().upper() != "ALL")


def _service_email(data: dict[str, Any]) -> str:
    account = data.get("service_account")
    return _str(account, "client_email") if isinstance(account, dict) else ""


def _base_url(channel: str, data: dict[str, Any]) -> str:
    if channel == "qwen":
        resource = _str(data, "resource_url")
        if resource:
            host = resource.removeprefix("https://").removeprefix("http://").rstrip("/")
            return f"https://{host.removesuffix('/v1')}/v1"
    return _str(data, "base_url").rstrip("/")


def _account_id(data: dict[str, Any]) -> str:
    """The ChatGPT account id: the record's field, else the id token's auth claim."""
    found = _str(data, "account_id")
    if found:
        return found
    for key in ("id_token", "access_token"):
        claims = _jwt_claims(_str(data, key))
        auth = claims.get("https://api.openai.com/auth")
        if isinstance(auth, dict) and isinstance(auth.get("chatgpt_account_id"), str):
            return str(auth["chatgpt_account_id"])
    return ""


def _jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT we stored ourselves (read for a claim, never trusted for auth)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = _json.decode(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, msgspec.DecodeError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}
