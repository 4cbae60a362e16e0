"""Shared fixtures: fake upstreams and the gateway process harness live in tests/support."""

pytest_plugins = ["tests.support.fixtures"]
