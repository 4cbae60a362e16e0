"""Shared fixtures: fake upstreams and the gateway process harness live in tests/support."""

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.hardening import PROFILE
from tests.support.sdk_clients import close_tracked

pytest_plugins = ["tests.support.fixtures"]

# Property tests judge correctness, never speed: a busy CI machine must not fail them on time.
# AIPROXYAPI_TEST_PROFILE picks how hard they search: "quick" (every run) or "long" (tests/run-long).
settings.register_profile("project", deadline=None)
settings.register_profile("quick", parent=settings.get_profile("project"))
settings.register_profile(
    "long", parent=settings.get_profile("project"), max_examples=2000, print_blob=True
)
settings.load_profile(PROFILE)


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    close_tracked()
