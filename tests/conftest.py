"""Shared fixtures: fake upstreams and the gateway process harness live in tests/support."""

from hypothesis import settings

pytest_plugins = ["tests.support.fixtures"]

# Property tests judge correctness, never speed: a busy CI machine must not fail them on time.
settings.register_profile("project", deadline=None)
settings.load_profile("project")
