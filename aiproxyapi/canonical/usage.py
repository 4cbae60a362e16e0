"""Token usage in one shape, whatever dialect reported it."""

from __future__ import annotations

import msgspec

__all__ = ["Usage"]


class Usage(msgspec.Struct, kw_only=True):
    """Token counts of one answer; `input` includes `cached`, `output` includes `reasoning`."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        """Input plus output."""
        return self.input + self.output
