"""Token usage in one shape, whatever dialect reported it."""

from __future__ import annotations

import msgspec

__all__ = ["Usage"]


class Usage(msgspec.Struct, kw_only=True):
    """Token counts of one answer, with OpenAI's semantics.

    `input` counts every prompt token, `cached` (cache reads) and `cache_write` (cache
    creation) included; `output` counts every generated token, `reasoning` included.
    """

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        """Input plus output."""
        return self.input + self.output
