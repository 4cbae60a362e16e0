"""Shared builders for unit tests: credentials, candidates, routes, config text and a fake clock."""

from __future__ import annotations

from collections.abc import Sequence

from aiproxyapi.config import parse_config
from aiproxyapi.credential import ApiKeyCredential, Credential, ProviderKind
from aiproxyapi.pool import credentials_from_config
from aiproxyapi.routing import Candidate, Route
from aiproxyapi.secret import Secret

__all__ = [
    "FakeClock",
    "candidate",
    "credential",
    "credentials_from_yaml",
    "route",
]


class FakeClock:
    """A monotonic clock that moves only when a test says so; pass it as `PoolState(clock=...)`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds


def credential(
    name: str = "a",
    *,
    models: Sequence[str | tuple[str, str]] = ("gpt-4o",),
    priority: int = 0,
    weight: int = 1,
    prefix: str = "",
    excluded: Sequence[str] = (),
    provider: str = "test",
) -> Credential:
    """An OpenAI-compatible API-key credential whose id is `id-<name>`.

    `models` items are a plain name (served under itself) or a (client name, upstream name) pair.
    """
    pairs = tuple((m, m) if isinstance(m, str) else m for m in models)
    return ApiKeyCredential(
        id=f"id-{name}",
        kind=ProviderKind.OPENAI_COMPAT,
        provider=provider,
        label=f"{provider}/{name}",
        api_key=Secret(f"sk-secret-{name}"),
        base_url="https://upstream.invalid/v1",
        prefix=prefix,
        priority=priority,
        weight=weight,
        models=pairs,
        excluded_models=tuple(excluded),
    )


def candidate(cred: Credential, upstream_model: str | None = None) -> Candidate:
    """A candidate serving the credential's first model (or `upstream_model`)."""
    return Candidate(cred, upstream_model or cred.models[0][1])


def route(model: str, *candidates: Candidate) -> Route:
    """A route for `model` over the given candidates, in that order."""
    return Route(requested=model, model=model, candidates=candidates)


def credentials_from_yaml(text: str) -> list[Credential]:
    """Credentials as the gateway builds them from config.yaml text."""
    return credentials_from_config(parse_config(text).config)
