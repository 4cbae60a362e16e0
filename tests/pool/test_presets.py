"""Provider presets: an `openai-compatibility` entry named after a provider needs only a key."""

from __future__ import annotations

import pytest

from aiproxyapi.config import PRESET_BASE_URLS, ConfigError, parse_config
from aiproxyapi.routing import ModelRegistry
from tests.factories import credentials_from_yaml


@pytest.mark.parametrize(
    ("name", "base_url"),
    [
        ("openrouter", "https://openrouter.ai/api/v1"),
        ("mistral", "https://api.mistral.ai/v1"),
        ("xai", "https://api.x.ai/v1"),
        ("deepseek", "https://api.deepseek.com/v1"),
        ("groq", "https://api.groq.com/openai/v1"),
        ("Groq", "https://api.groq.com/openai/v1"),
        ("openai", "https://api.openai.com/v1"),
    ],
)
def test_a_preset_needs_only_a_name_and_a_key(name: str, base_url: str) -> None:
    (cred,) = credentials_from_yaml(
        f"openai-compatibility:\n  - name: {name}\n    api-keys: [sk-preset-0001]\n"
    )
    assert (cred.provider, cred.base_url, cred.models) == (name, base_url, ())
    assert cred.api_key.reveal() == "sk-preset-0001"


def test_every_preset_is_an_https_api_root() -> None:
    assert set(PRESET_BASE_URLS) >= {"openrouter", "mistral", "xai", "deepseek", "groq"}
    assert all(
        url.startswith("https://") and not url.endswith("/") for url in PRESET_BASE_URLS.values()
    )


def test_an_explicit_base_url_beats_the_preset() -> None:
    (cred,) = credentials_from_yaml(
        "openai-compatibility:\n  - name: groq\n    base-url: https://proxy.invalid/v1\n"
        "    api-key-entries:\n      - api-key: sk-1\n"
    )
    assert cred.base_url == "https://proxy.invalid/v1"


def test_a_non_preset_name_still_needs_a_base_url() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("openai-compatibility:\n  - name: my-llm\n    api-keys: [sk-1]\n")
    assert "openai-compatibility[0]" in str(caught.value)
    assert "base-url" in str(caught.value)


def test_preset_entries_serve_names_routed_to_them() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        "  - name: groq\n    api-keys: [sk-g]\n"
        "  - name: openrouter\n    api-keys: [sk-o]\n"
        "  - name: deepseek\n    api-keys: [sk-d]\n"
        "  - name: xai\n    api-keys: [sk-x]\n"
        "  - name: mistral\n    api-keys: [sk-m]\n"
    )
    registry = ModelRegistry(creds)

    def served(model: str) -> list[tuple[str, str]]:
        return [
            (c.credential.provider, c.upstream_model) for c in registry.resolve(model).candidates
        ]

    assert served("groq/llama-3.3-70b-versatile") == [("groq", "llama-3.3-70b-versatile")]
    assert served("llama-3.1-8b-instant") == [("groq", "llama-3.1-8b-instant")]
    assert served("qwen/qwen3-coder") == [("openrouter", "qwen/qwen3-coder")]
    assert served("deepseek-reasoner") == [("deepseek", "deepseek-reasoner")]
    assert served("grok-code-fast-1") == [("xai", "grok-code-fast-1")]
    assert served("devstral-medium-latest") == [("mistral", "devstral-medium-latest")]
