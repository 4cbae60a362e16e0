"""Routing: a requested model name becomes the (credential, upstream model) candidates.

Sits between the dialect decoders and the pool. Handles aliases, `prefix/model`, excluded
models with `*` wildcards, the `model(level)` / `model(budget)` thinking suffix, and routing by
name: a name no entry lists goes to the catalogue credentials of the provider it implies.
"""

from aiproxyapi.routing.names import Thinking, match_wildcard, split_thinking_suffix
from aiproxyapi.routing.registry import Candidate, ModelEntry, ModelRegistry, Route

__all__ = [
    "Candidate",
    "ModelEntry",
    "ModelRegistry",
    "Route",
    "Thinking",
    "match_wildcard",
    "split_thinking_suffix",
]
