"""Dialect codecs: the wire formats clients speak and upstreams answer in.

The support matrix on one screen: each `Format` maps to one codec module with the same contract.
Codecs are pure and synchronous; they import only the standard library, msgspec and each other.
"""

from __future__ import annotations

import enum

__all__ = ["Format"]


class Format(enum.Enum):
    """A wire dialect."""

    OPENAI_CHAT = "openai"
    OPENAI_RESPONSES = "openai-responses"
    CLAUDE = "claude"
    GEMINI = "gemini"
