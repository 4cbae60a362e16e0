"""The test profile: `AIPROXYAPI_TEST_PROFILE=long` runs the fault loops at full count.

`quick` (the default, every CI run) keeps each loop to a handful of runs; `long` runs them as
reliability.md §3.2 asks (200 kills during a refresh, 500 during writes).
"""

from __future__ import annotations

import os

__all__ = ["LONG", "PROFILE", "runs"]

PROFILE = os.environ.get("AIPROXYAPI_TEST_PROFILE", "quick").strip().lower() or "quick"
LONG = PROFILE == "long"


def runs(quick: int, long: int) -> int:
    """The iteration count for this profile."""
    return long if LONG else quick
