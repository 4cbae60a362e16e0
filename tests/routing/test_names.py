"""Model-name syntax: the thinking suffix, budgets to levels, and exclusion wildcards."""

from __future__ import annotations

import pytest

from aiproxyapi.canonical.thinking import LEVEL_BUDGETS
from aiproxyapi.canonical.thinking import level_for as budget_to_level
from aiproxyapi.routing import Thinking, match_wildcard, split_thinking_suffix


@pytest.mark.parametrize(
    ("name", "base", "thinking"),
    [
        ("gpt-5(high)", "gpt-5", Thinking(level="high", budget=24576)),
        ("gpt-5(HIGH)", "gpt-5", Thinking(level="high", budget=24576)),
        ("gpt-5(minimal)", "gpt-5", Thinking(level="minimal", budget=512)),
        ("gpt-5(none)", "gpt-5", Thinking(level="none", budget=0)),
        ("gpt-5(auto)", "gpt-5", Thinking(level="auto", budget=-1)),
        ("claude-sonnet(8192)", "claude-sonnet", Thinking(level="medium", budget=8192)),
        ("claude-sonnet(0)", "claude-sonnet", Thinking(level="none", budget=0)),
        ("claude-sonnet(-1)", "claude-sonnet", Thinking(level="auto", budget=-1)),
        ("claude-sonnet(100000)", "claude-sonnet", Thinking(level="xhigh", budget=100000)),
        ("vendor/model(2.5)(low)", "vendor/model(2.5)", Thinking(level="low", budget=1024)),
    ],
)
def test_a_suffix_splits_into_base_and_thinking(name: str, base: str, thinking: Thinking) -> None:
    assert split_thinking_suffix(name) == (base, thinking)


@pytest.mark.parametrize(
    "name", ["gpt-5", "gpt-5(turbo)", "gpt-5()", "(high)", "gpt-5(high) ", "gpt-5(1.5)", "gpt(-)"]
)
def test_names_without_a_valid_suffix_stay_whole(name: str) -> None:
    assert split_thinking_suffix(name) == (name, None)


@pytest.mark.parametrize(
    ("budget", "level"),
    [
        (-5, "auto"),
        (-1, "auto"),
        (0, "none"),
        (1, "minimal"),
        (512, "minimal"),
        (513, "low"),
        (1024, "low"),
        (1025, "medium"),
        (8192, "medium"),
        (8193, "high"),
        (24576, "high"),
        (24577, "xhigh"),
        (10**6, "xhigh"),
    ],
)
def test_budget_to_level_thresholds(budget: int, level: str) -> None:
    assert budget_to_level(budget) == level


def test_every_named_level_maps_back_to_itself_through_its_budget() -> None:
    for level in ("none", "auto", "minimal", "low", "medium", "high", "xhigh"):
        assert budget_to_level(LEVEL_BUDGETS[level]) == level


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("gpt-4o", "gpt-4o", True),
        ("gpt-4o", "gpt-4o-mini", False),
        ("gpt-*", "gpt-4o", True),
        ("gpt-*", "chatgpt-4o", False),
        ("*-preview", "gemini-2.5-pro-preview", True),
        ("*-preview", "gemini-2.5-pro-preview-2", False),
        ("*mini*", "gpt-4o-mini-2024", True),
        ("*mini*", "gpt-4o", False),
        ("*mini*", "gemini-pro", True),  # ge-mini: a substring anywhere
        ("*", "anything", True),
        ("a*b*c", "a-x-b-y-c", True),
        ("a*b*c", "a-x-c-y-b", False),
        ("gpt-4.1*", "gpt-4x1-mini", False),  # `.` is a plain character
        ("o[1]*", "o[1]-pro", True),
        ("(x)*", "(x)yz", True),
    ],
)
def test_match_wildcard(pattern: str, name: str, matches: bool) -> None:
    assert match_wildcard(pattern, name) is matches
