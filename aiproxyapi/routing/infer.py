"""Routing by name: the provider a model name belongs to, for names no config entry lists.

A credential that declares no `models` serves its provider's whole catalogue, so a request for
a name no alias matches goes to the credentials of the provider the name implies: `claude-*`
to Claude, `gpt-*`, `o1`/`o3`/`o4*`, `codex-*` to OpenAI/Codex, `gemini-*` to Gemini and
Vertex, `mistral-*`, `grok-*`, `deepseek-*`... to the entry named after that provider, and
`vendor/model` to an OpenRouter entry. `name/model`, where `name` is such a credential's
entry name or prefix, goes to that credential with `model` as the upstream name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiproxyapi.credential import Credential, ProviderKind
from aiproxyapi.routing.names import match_wildcard

__all__ = ["family_of", "infer_candidates"]

# (name prefixes, provider family). Longer prefixes first where they overlap.
_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("claude-",), "claude"),
    (("gpt-", "chatgpt-", "codex-", "o1", "o3", "o4"), "openai"),
    (("gemini-",), "gemini"),
    (("mistral-", "codestral", "devstral", "magistral", "ministral", "pixtral"), "mistral"),
    (("open-mistral-", "open-mixtral-"), "mistral"),
    (("grok-",), "xai"),
    (("deepseek-",), "deepseek"),
    (("qwen", "qwq-"), "qwen"),
    (("llama-",), "groq"),
)

# Which credentials belong to a family: by executor kind (API key or OAuth alike), or, for
# OpenAI-compatible entries, by entry name.
_KINDS: dict[str, frozenset[str]] = {
    "claude": frozenset({ProviderKind.CLAUDE.value}),
    "openai": frozenset({ProviderKind.CODEX.value}),
    "gemini": frozenset({ProviderKind.GEMINI.value, ProviderKind.VERTEX.value, "gemini-cli"}),
    "qwen": frozenset({"qwen"}),
}


def family_of(model: str) -> str | None:
    """The provider family a bare model name implies; None when it implies none."""
    lowered = model.lower()
    for prefixes, family in _PREFIXES:
        if lowered.startswith(prefixes):
            return family
    return None


def _in_family(credential: Credential, family: str) -> bool:
    if credential.kind.value in _KINDS.get(family, ()):
        return True
    return credential.kind is ProviderKind.OPENAI_COMPAT and credential.provider.lower() == family


def _excluded(credential: Credential, model: str) -> bool:
    return any(match_wildcard(pattern, model) for pattern in credential.excluded_models)


def infer_candidates(
    catalogue: Iterable[Credential], model: str
) -> Iterator[tuple[Credential, str]]:
    """(credential, upstream model) pairs that may serve `model` by name, in config order."""
    servers = [credential for credential in catalogue if not _excluded(credential, model)]
    head, slash, rest = model.partition("/")
    if head and slash and rest:
        named = [
            c
            for c in servers
            if head in (c.prefix, c.provider) or head.lower() == c.provider.lower()
        ]
        if named:
            yield from ((c, rest) for c in named if not _excluded(c, rest))
            return
        yield from ((c, model) for c in servers if c.provider.lower() == "openrouter")
        return
    family = family_of(model)
    if family is not None:
        yield from ((c, model) for c in servers if _in_family(c, family))
