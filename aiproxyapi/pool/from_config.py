"""Turn the provider lists of config.yaml into credential records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from aiproxyapi.config import Config, ModelAlias, ProviderKeyEntry
from aiproxyapi.credential import ApiKeyCredential, Credential, ProviderKind
from aiproxyapi.secret import Secret, fingerprint

__all__ = ["credentials_from_config"]

_DEFAULT_BASE_URLS = {
    ProviderKind.CLAUDE: "https://api.anthropic.com",
    ProviderKind.GEMINI: "https://generativelanguage.googleapis.com",
    ProviderKind.VERTEX: "https://aiplatform.googleapis.com",
    ProviderKind.CODEX: "",
}


def credentials_from_config(config: Config) -> list[Credential]:
    """Every enabled credential the config declares, in declaration order."""
    found = list(_openai_compat(config))
    for kind, entries in (
        (ProviderKind.CLAUDE, config.claude_api_key),
        (ProviderKind.GEMINI, config.gemini_api_key),
        (ProviderKind.CODEX, config.codex_api_key),
        (ProviderKind.VERTEX, config.vertex_api_key),
    ):
        found.extend(_provider_keys(kind, entries))
    # The same key listed twice is one credential, not two turns in the rotation.
    unique: dict[str, Credential] = {}
    for credential in found:
        unique.setdefault(credential.id, credential)
    return list(unique.values())


def _openai_compat(config: Config) -> Iterator[Credential]:
    for entry in config.openai_compatibility:
        if entry.disabled:
            continue
        base_url = entry.resolved_base_url
        for key in entry.api_key_entries:
            secret = key.api_key.strip()
            yield ApiKeyCredential(
                id=_credential_id(ProviderKind.OPENAI_COMPAT, base_url, secret, entry.name),
                kind=ProviderKind.OPENAI_COMPAT,
                provider=entry.name,
                label=f"{entry.name}/key-{fingerprint(secret)}",
                api_key=Secret(secret),
                base_url=base_url.rstrip("/"),
                proxy_url=key.proxy_url,
                headers=tuple(entry.headers.items()),
                prefix=entry.prefix.strip("/"),
                priority=entry.priority,
                weight=key.weight,
                models=_model_pairs(entry.models),
                excluded_models=entry.excluded_models,
            )


def _provider_keys(
    kind: ProviderKind, entries: tuple[ProviderKeyEntry, ...]
) -> Iterator[Credential]:
    for entry in entries:
        secret = entry.api_key.strip()
        base_url = (entry.base_url or _DEFAULT_BASE_URLS[kind]).rstrip("/")
        if not base_url:
            continue
        yield ApiKeyCredential(
            id=_credential_id(kind, base_url, secret),
            kind=kind,
            provider=kind.value,
            label=f"{kind.value}/key-{fingerprint(secret)}",
            api_key=Secret(secret),
            base_url=base_url,
            proxy_url=entry.proxy_url,
            headers=tuple(entry.headers.items()),
            prefix=entry.prefix.strip("/"),
            priority=entry.priority,
            weight=entry.weight,
            models=_model_pairs(entry.models),
            excluded_models=entry.excluded_models,
        )


def _model_pairs(models: tuple[ModelAlias, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((model.client_name, model.name.strip()) for model in models)


def _credential_id(kind: ProviderKind, base_url: str, secret: str, entry: str = "") -> str:
    # The entry name is part of the identity: two entries sharing a key serve different models.
    material = f"{kind.value}\n{entry}\n{base_url.rstrip('/')}\n{secret}".encode()
    return hashlib.sha256(material).hexdigest()[:16]
