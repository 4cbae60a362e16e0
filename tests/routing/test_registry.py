"""ModelRegistry: aliases, prefixes, exclusions and thinking suffixes, built from config text."""

from __future__ import annotations

import pytest

from aiproxyapi.errors import ClientRequestError
from aiproxyapi.routing import ModelRegistry, Route, Thinking
from tests.factories import credential, credentials_from_yaml

CONFIG = """
openai-compatibility:
  - name: alpha
    base-url: https://alpha.invalid/v1
    prefix: al
    api-key-entries:
      - api-key: sk-alpha-key-one
      - api-key: sk-alpha-key-two
    models:
      - name: alpha-large-2025
        alias: large
      - name: alpha-small
      - name: alpha-small-preview
      - name: internal-upstream-name
        alias: public-name
      - name: upstream-x
        alias: hidden-alias
      - name: "odd(high)"
    excluded-models:
      - "*-preview"
      - "internal-*"
      - "hidden-*"
  - name: beta
    base-url: https://beta.invalid/v1
    api-key-entries:
      - api-key: sk-beta-key
    models:
      - name: beta-fast-v1
        alias: fast
      - name: beta-fast-v2
        alias: fast
      - name: beta-mini-chat
    excluded-models:
      - "*mini*"
claude-api-key:
  - api-key: sk-claude-key
    models:
      - name: claude-sonnet-4
        alias: large
"""


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry(credentials_from_yaml(CONFIG))


def served_by(found: Route) -> list[tuple[str, str]]:
    """(provider, upstream model) of each candidate, in order."""
    return [(c.credential.provider, c.upstream_model) for c in found.candidates]


def test_entries_list_exactly_the_routable_names_in_declaration_order(
    registry: ModelRegistry,
) -> None:
    assert [(e.id, e.owned_by) for e in registry.entries()] == [
        ("large", "alpha"),
        ("al/large", "alpha"),
        ("alpha-small", "alpha"),
        ("al/alpha-small", "alpha"),
        ("odd(high)", "alpha"),
        ("al/odd(high)", "alpha"),
        ("fast", "beta"),
    ]
    assert all(entry.id in registry for entry in registry.entries())


def test_an_alias_routes_to_the_upstream_name_of_every_credential_serving_it(
    registry: ModelRegistry,
) -> None:
    found = registry.resolve("large")
    assert (found.requested, found.model, found.thinking) == ("large", "large", None)
    assert served_by(found) == [
        ("alpha", "alpha-large-2025"),
        ("alpha", "alpha-large-2025"),
        ("claude", "claude-sonnet-4"),
    ]
    assert len({c.key for c in found.candidates}) == 3
    # The upstream name of an aliased model is not a client-visible name.
    assert "alpha-large-2025" not in registry


def test_one_alias_over_two_upstream_names_gives_both(registry: ModelRegistry) -> None:
    assert served_by(registry.resolve("fast")) == [
        ("beta", "beta-fast-v1"),
        ("beta", "beta-fast-v2"),
    ]


def test_a_prefix_exposes_prefix_slash_model_too(registry: ModelRegistry) -> None:
    found = registry.resolve("al/large")
    assert found.model == "al/large"
    assert served_by(found) == [("alpha", "alpha-large-2025")] * 2
    assert "be/fast" not in registry  # beta has no prefix
    assert "claude/large" not in registry


@pytest.mark.parametrize(
    "name",
    [
        "alpha-small-preview",  # *-preview, suffix wildcard on the name
        "public-name",  # internal-*, prefix wildcard matched on the upstream name
        "internal-upstream-name",
        "hidden-alias",  # hidden-*, matched on the alias
        "upstream-x",
        "beta-mini-chat",  # *mini*, substring
        "al/alpha-small-preview",
    ],
)
def test_excluded_models_are_not_routable(registry: ModelRegistry, name: str) -> None:
    assert name not in registry
    with pytest.raises(ClientRequestError):
        registry.resolve(name)


@pytest.mark.parametrize("name", ["no-such-model", "large(turbo)", "LARGE", "al/", "odd(low)"])
def test_unknown_models_are_a_404_model_not_found(registry: ModelRegistry, name: str) -> None:
    with pytest.raises(ClientRequestError) as caught:
        registry.resolve(name)
    error = caught.value
    assert (error.status, error.code, error.param) == (404, "model_not_found", "model")
    assert name in error.message


@pytest.mark.parametrize(
    ("requested", "model", "thinking"),
    [
        ("large(high)", "large", Thinking(level="high", budget=24576)),
        ("large(8192)", "large", Thinking(level="medium", budget=8192)),
        ("al/large(low)", "al/large", Thinking(level="low", budget=1024)),
        ("fast(none)", "fast", Thinking(level="none", budget=0)),
    ],
)
def test_a_thinking_suffix_routes_to_the_base_model(
    registry: ModelRegistry, requested: str, model: str, thinking: Thinking
) -> None:
    found = registry.resolve(requested)
    assert (found.requested, found.model, found.thinking) == (requested, model, thinking)
    assert found.candidates == registry.resolve(model).candidates


def test_a_model_named_with_parentheses_matches_exactly(registry: ModelRegistry) -> None:
    found = registry.resolve("odd(high)")
    assert (found.model, found.thinking) == ("odd(high)", None)
    assert served_by(found) == [("alpha", "odd(high)")] * 2


def test_a_credential_without_models_routes_nothing() -> None:
    registry = ModelRegistry([credential("bare", models=())])
    assert list(registry.entries()) == []


def test_priorities_do_not_change_routing_order() -> None:
    # The registry lists candidates in config order; choosing by priority is the pool's job.
    low, high = credential("low", priority=0), credential("high", priority=9)
    found = ModelRegistry([low, high]).resolve("gpt-4o")
    assert [c.credential.id for c in found.candidates] == ["id-low", "id-high"]
