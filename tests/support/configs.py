"""Config text builders for tests: a gateway config around fake upstreams."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

__all__ = ["CLIENT_KEY", "gateway_config", "openai_entry", "provider_key_entry"]

CLIENT_KEY = "sk-client-test-5b1d"


def openai_entry(
    name: str,
    base_url: str,
    keys: Iterable[str],
    models: Sequence[tuple[str, str] | str] = ("m1",),
    **extra: Any,
) -> dict[str, Any]:
    """One `openai-compatibility` entry; models are names or (upstream name, alias) pairs."""
    entry: dict[str, Any] = {
        "name": name,
        "base-url": base_url,
        "api-key-entries": [{"api-key": key} for key in keys],
        "models": [
            {"name": model} if isinstance(model, str) else {"name": model[0], "alias": model[1]}
            for model in models
        ],
    }
    entry.update(extra)
    return entry


def provider_key_entry(
    api_key: str,
    base_url: str,
    models: Sequence[tuple[str, str] | str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One item of `claude-api-key`, `gemini-api-key`, `codex-api-key` or `vertex-api-key`."""
    entry: dict[str, Any] = {
        "api-key": api_key,
        "base-url": base_url,
        "models": [
            {"name": model} if isinstance(model, str) else {"name": model[0], "alias": model[1]}
            for model in models
        ],
    }
    entry.update(extra)
    return entry


def gateway_config(
    *entries: Mapping[str, Any],
    api_keys: Sequence[str | Mapping[str, Any]] = (CLIENT_KEY,),
    **settings: Any,
) -> str:
    """A complete config.yaml with `{port}` and `{auth_dir}` placeholders for the harness."""
    document: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": "{port}",
        "auth-dir": "{auth_dir}",
        "api-keys": [key if isinstance(key, str) else dict(key) for key in api_keys],
        "openai-compatibility": [dict(entry) for entry in entries],
    }
    document.update(settings)
    text = yaml.safe_dump(document, sort_keys=False)
    # safe_dump quotes the placeholder; the port must come out as a bare number.
    return text.replace("'{port}'", "{port}")
