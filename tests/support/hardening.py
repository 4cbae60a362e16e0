"""The hardening suites' two profiles: "quick" on every run, "long" on demand (tests/run-long).

`AIPROXYAPI_TEST_PROFILE=long` selects the long one. Hypothesis tests without their own
`max_examples` follow the profile loaded in tests/conftest.py; heavy ones that set their own
count take it from `examples`, so a quick run stays quick and a long run searches far longer.
"""

from __future__ import annotations

import os

__all__ = ["LONG", "PROFILE", "examples"]

PROFILE = os.environ.get("AIPROXYAPI_TEST_PROFILE", "quick")
LONG = PROFILE == "long"

_LONG_FACTOR = 25


def examples(quick: int) -> int:
    """The example count for a test that runs `quick` examples in the quick profile."""
    return quick * _LONG_FACTOR if LONG else quick
