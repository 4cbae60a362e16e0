"""Shared fixtures: fake upstreams and the gateway process harness live in tests/support."""

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.sdk_clients import close_tracked

pytest_plugins = ["tests.support.fixtures"]

# Property tests judge correctness, never speed: a busy CI machine must not fail them on time.
settings.register_profile("project", deadline=None)
settings.load_profile("project")


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    close_tracked()
