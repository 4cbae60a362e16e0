"""The wire dialects the gateway speaks."""

from __future__ import annotations

import enum

__all__ = ["Format"]


class Format(enum.Enum):
    """A wire dialect; the value is the name used in config and fixtures."""

    OPENAI_CHAT = "openai"
    OPENAI_RESPONSES = "openai-responses"
    CLAUDE = "claude"
    GEMINI = "gemini"
