"""Pytest fixtures over the fake upstream and the gateway harness.

Load them from the top-level conftest with ``pytest_plugins = ["tests.support.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from .fake_oauth import FakeOAuth
from .fake_upstream import FakeUpstream
from .gateway import GatewayProcess

__all__ = ["GatewayFactory", "fake_oauth", "fake_upstream", "gateway_factory", "make_upstream"]


class GatewayFactory(Protocol):
    """Start a gateway from config text (options go to GatewayProcess); all stopped at teardown."""

    def __call__(
        self,
        config_text: str,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> GatewayProcess: ...


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., FakeUpstream]]:
    """A factory of started FakeUpstreams (keywords go to FakeUpstream); all stopped at teardown."""
    started: list[FakeUpstream] = []

    def make(**kwargs: Any) -> FakeUpstream:
        upstream = FakeUpstream(**kwargs).start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in reversed(started):
        upstream.stop()


@pytest.fixture
def fake_upstream(make_upstream: Callable[..., FakeUpstream]) -> FakeUpstream:
    """One started FakeUpstream with the default echo-the-key reply."""
    return make_upstream()


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start GatewayProcess instances: the first in tmp_path, later ones in tmp_path/gateway-N."""
    started: list[GatewayProcess] = []

    def start(
        config_text: str,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> GatewayProcess:
        home = tmp_path if not started else tmp_path / f"gateway-{len(started) + 1}"
        home.mkdir(parents=True, exist_ok=True)
        gateway = GatewayProcess(
            config_text, tmp_path=home, extra_args=extra_args, env=env, **options
        )
        started.append(gateway)
        return gateway.start()

    yield start
    for gateway in reversed(started):
        gateway.stop()


@pytest.fixture
def fake_oauth(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOAuth]:
    """A started FakeOAuth, with every ``AIPROXYAPI_*_URL`` of this process pointing at it."""
    with FakeOAuth() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake
