"""Reasoning effort levels and token budgets, and the conversions between them.

The level↔budget table is the common practice of gateways (wire-formats §9.4), not a vendor spec.
"""

from __future__ import annotations

__all__ = ["LEVELS", "LEVEL_BUDGETS", "budget_for", "level_for"]

LEVEL_BUDGETS: dict[str, int] = {
    "none": 0,
    "auto": -1,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 128000,
}

LEVELS = tuple(LEVEL_BUDGETS)


def level_for(budget: int) -> str:
    """The effort level nearest a token budget: -1 auto, 0 none, then by upper bounds."""
    if budget < 0:
        return "auto"
    if budget == 0:
        return "none"
    for level in ("minimal", "low", "medium", "high"):
        if budget <= LEVEL_BUDGETS[level]:
            return level
    return "xhigh"


def budget_for(level: str) -> int:
    """The token budget of an effort level (unknown levels count as medium)."""
    return LEVEL_BUDGETS.get(level, LEVEL_BUDGETS["medium"])
