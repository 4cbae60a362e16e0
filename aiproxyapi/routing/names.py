"""Model-name syntax: thinking suffixes and exclusion wildcards."""

from __future__ import annotations

import functools
import re

import msgspec

from aiproxyapi.canonical.thinking import LEVEL_BUDGETS, level_for

__all__ = ["Thinking", "match_wildcard", "split_thinking_suffix"]

_SUFFIX = re.compile(r"^(?P<base>.+?)\((?P<value>[A-Za-z]+|-?\d+)\)$")


class Thinking(msgspec.Struct, frozen=True):
    """A thinking request from a model-name suffix: a level, a token budget, or both derived."""

    level: str
    budget: int


def split_thinking_suffix(name: str) -> tuple[str, Thinking | None]:
    """Split `model(high)` or `model(8192)` into the bare name and its thinking request."""
    found = _SUFFIX.match(name)
    if found is None:
        return name, None
    value = found["value"].lower()
    if value.lstrip("-").isdigit():
        budget = int(value)
        return found["base"], Thinking(level=level_for(budget), budget=budget)
    if value in LEVEL_BUDGETS:
        return found["base"], Thinking(level=value, budget=LEVEL_BUDGETS[value])
    return name, None


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def match_wildcard(pattern: str, name: str) -> bool:
    """Whether `name` matches `pattern`, where `*` stands for any run of characters."""
    if "*" not in pattern:
        return pattern == name
    return _wildcard(pattern).match(name) is not None
