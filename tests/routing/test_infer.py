"""Routing by name: names no entry lists go to the provider they imply, or to `name/model`."""

from __future__ import annotations

import pytest

from aiproxyapi.credential import ApiKeyCredential, Credential, ProviderKind
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.routing import ModelRegistry, Thinking
from aiproxyapi.routing.infer import family_of
from aiproxyapi.secret import Secret
from tests.factories import credential


def catalogue(name: str, kind: ProviderKind, provider: str = "", **extra: object) -> Credential:
    """A credential without a model list (it serves its provider's catalogue)."""
    return ApiKeyCredential(
        id=f"id-{name}",
        kind=kind,
        provider=provider or kind.value,
        label=name,
        api_key=Secret(f"sk-{name}"),
        base_url="https://upstream.invalid",
        **extra,  # type: ignore[arg-type]
    )


CLAUDE = catalogue("claude", ProviderKind.CLAUDE)
CODEX = catalogue("codex", ProviderKind.CODEX)
GEMINI = catalogue("gemini", ProviderKind.GEMINI)
VERTEX = catalogue("vertex", ProviderKind.VERTEX)
OPENAI = catalogue("openai", ProviderKind.OPENAI_COMPAT, "openai")
ROUTER = catalogue("router", ProviderKind.OPENAI_COMPAT, "openrouter")
MISTRAL = catalogue("mistral", ProviderKind.OPENAI_COMPAT, "mistral")
XAI = catalogue("xai", ProviderKind.OPENAI_COMPAT, "xai")
DEEPSEEK = catalogue("deepseek", ProviderKind.OPENAI_COMPAT, "deepseek")
GROQ = catalogue("groq", ProviderKind.OPENAI_COMPAT, "groq")
ALL = [CLAUDE, CODEX, GEMINI, VERTEX, OPENAI, ROUTER, MISTRAL, XAI, DEEPSEEK, GROQ]


def served(model: str, credentials: list[Credential] = ALL) -> list[tuple[str, str]]:
    found = ModelRegistry(credentials).resolve(model)
    return [(c.credential.label, c.upstream_model) for c in found.candidates]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5-20250929", [("claude", "claude-sonnet-4-5-20250929")]),
        ("gpt-5.4", [("codex", "gpt-5.4"), ("openai", "gpt-5.4")]),
        ("o3-mini", [("codex", "o3-mini"), ("openai", "o3-mini")]),
        ("o4-mini", [("codex", "o4-mini"), ("openai", "o4-mini")]),
        ("codex-mini-latest", [("codex", "codex-mini-latest"), ("openai", "codex-mini-latest")]),
        ("gemini-2.5-pro", [("gemini", "gemini-2.5-pro"), ("vertex", "gemini-2.5-pro")]),
        ("mistral-large-latest", [("mistral", "mistral-large-latest")]),
        ("codestral-latest", [("mistral", "codestral-latest")]),
        ("grok-4", [("xai", "grok-4")]),
        ("deepseek-chat", [("deepseek", "deepseek-chat")]),
        ("llama-3.3-70b-versatile", [("groq", "llama-3.3-70b-versatile")]),
        ("anthropic/claude-sonnet-4.5", [("router", "anthropic/claude-sonnet-4.5")]),
        ("groq/openai/gpt-oss-120b", [("groq", "openai/gpt-oss-120b")]),
        ("mistral/magistral-medium-latest", [("mistral", "magistral-medium-latest")]),
    ],
)
def test_a_name_routes_to_its_providers_catalogue(
    model: str, expected: list[tuple[str, str]]
) -> None:
    assert served(model) == expected


def test_a_listed_name_or_alias_wins_over_inference() -> None:
    listed = credential("listed", models=[("claude-sonnet-4-5", "my-proxy-sonnet")])
    assert served("claude-sonnet-4-5", [CLAUDE, listed]) == [("test/listed", "my-proxy-sonnet")]


def test_credentials_with_a_model_list_serve_only_that_list() -> None:
    listed = ApiKeyCredential(
        id="id-c",
        kind=ProviderKind.CLAUDE,
        provider="claude",
        label="listed-claude",
        api_key=Secret("sk"),
        base_url="https://x.invalid",
        models=(("sonnet", "claude-sonnet-4-5"),),
    )
    with pytest.raises(ClientRequestError) as caught:
        ModelRegistry([listed]).resolve("claude-opus-4-5")
    assert caught.value.status == 404


def test_excluded_models_hold_for_inferred_routes() -> None:
    picky = catalogue("picky", ProviderKind.CLAUDE, excluded_models=("claude-opus-*",))
    assert served("claude-sonnet-4", [picky]) == [("picky", "claude-sonnet-4")]
    with pytest.raises(ClientRequestError):
        ModelRegistry([picky]).resolve("claude-opus-4-5")


def test_a_thinking_suffix_is_split_before_inference() -> None:
    found = ModelRegistry([CLAUDE]).resolve("claude-sonnet-4-5(high)")
    assert found.model == "claude-sonnet-4-5"
    assert found.thinking == Thinking(
        level="high", budget=found.thinking.budget if found.thinking else 0
    )
    assert [c.upstream_model for c in found.candidates] == ["claude-sonnet-4-5"]


def test_names_of_no_known_family_and_unknown_vendors_are_not_found() -> None:
    for model in ("some-model", "vendor/model"):
        with pytest.raises(ClientRequestError):
            ModelRegistry([CLAUDE, CODEX]).resolve(model)
    assert family_of("Claude-3-Haiku") == "claude"
    assert family_of("some-model") is None


def test_inferred_names_are_not_listed_as_models() -> None:
    assert list(ModelRegistry(ALL).entries()) == []
