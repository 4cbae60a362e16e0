"""The model registry: which credentials serve which client-visible model names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from aiproxyapi.credential import Credential
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.routing.infer import infer_candidates
from aiproxyapi.routing.names import Thinking, match_wildcard, split_thinking_suffix

__all__ = ["Candidate", "ModelEntry", "ModelRegistry", "Route"]


class Candidate(msgspec.Struct, frozen=True):
    """One way to serve a request: a credential and the model name its upstream knows."""

    credential: Credential
    upstream_model: str

    @property
    def key(self) -> str:
        """Identity of this candidate for cooldowns: credential and upstream model."""
        return f"{self.credential.id}|{self.upstream_model}"


class ModelEntry(msgspec.Struct, frozen=True):
    """A routable model as `/v1/models` lists it."""

    id: str
    owned_by: str


class Route(msgspec.Struct, frozen=True):
    """The outcome of routing one request."""

    requested: str
    """What the client sent, suffix included."""
    model: str
    """The client-visible model name the candidates serve."""
    candidates: tuple[Candidate, ...]
    thinking: Thinking | None = None


_INFERRED_LIMIT = 1024


class ModelRegistry:
    """Maps every routable client model name to its candidates, built once per config.

    Names no entry lists are routed by name to the credentials that declare no `models`
    (see :mod:`aiproxyapi.routing.infer`); those routes are cached per name.
    """

    def __init__(self, credentials: Iterable[Credential]) -> None:
        table: dict[str, list[Candidate]] = {}
        owners: dict[str, str] = {}
        credentials = tuple(credentials)
        self._catalogue = tuple(c for c in credentials if not c.models)
        self._inferred: dict[str, tuple[Candidate, ...]] = {}
        for credential in credentials:
            for name, upstream in _served_models(credential):
                for visible in _visible_names(credential, name):
                    table.setdefault(visible, []).append(Candidate(credential, upstream))
                    owners.setdefault(visible, credential.provider)
        self._table: dict[str, tuple[Candidate, ...]] = {k: tuple(v) for k, v in table.items()}
        self._entries = tuple(ModelEntry(id=name, owned_by=owners[name]) for name in self._table)

    def resolve(self, requested: str) -> Route:
        """The route for a requested model name; a `model_not_found` error when none."""
        candidates = self._table.get(requested)
        thinking: Thinking | None = None
        model = requested
        if candidates is None:
            model, thinking = split_thinking_suffix(requested)
            candidates = self._table.get(model) if thinking is not None else None
        if not candidates and self._catalogue:
            base, suffix = split_thinking_suffix(requested)
            if suffix is not None:
                model, thinking, candidates = base, suffix, self._infer(base)
            if not candidates:
                model, thinking, candidates = requested, None, self._infer(requested)
        if not candidates:
            raise ClientRequestError(
                f"The model `{requested}` does not exist or is not served by this gateway.",
                status=404,
                code="model_not_found",
                param="model",
            )
        return Route(requested=requested, model=model, candidates=candidates, thinking=thinking)

    def _infer(self, model: str) -> tuple[Candidate, ...]:
        found = self._inferred.get(model)
        if found is None:
            found = tuple(Candidate(c, up) for c, up in infer_candidates(self._catalogue, model))
            if len(self._inferred) >= _INFERRED_LIMIT:
                self._inferred.clear()  # client-chosen names must not grow this without bound
            self._inferred[model] = found
        return found

    def entries(self) -> Sequence[ModelEntry]:
        """Every routable model, in the order the config declares them."""
        return self._entries

    def __contains__(self, name: object) -> bool:
        return name in self._table


def _served_models(credential: Credential) -> Iterable[tuple[str, str]]:
    for client_name, upstream in credential.models:
        excluded = any(
            match_wildcard(pattern, client_name) or match_wildcard(pattern, upstream)
            for pattern in credential.excluded_models
        )
        if not excluded:
            yield client_name, upstream


def _visible_names(credential: Credential, name: str) -> tuple[str, ...]:
    if credential.prefix:
        return (name, f"{credential.prefix}/{name}")
    return (name,)
