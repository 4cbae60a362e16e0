"""Fixtures of the management tests: a running gateway with a management secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.management.support import mgmt_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[FakeUpstream]:
    """One fake upstream for a whole module."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def shared_gateway(
    shared_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One gateway with a management secret for the read-mostly tests of a module."""
    home: Path = tmp_path_factory.mktemp("mgmt")
    with GatewayProcess(
        mgmt_config(shared_upstream.base_url), tmp_path=home, startup_timeout=40.0
    ) as gateway:
        yield gateway


@pytest.fixture
def start_gateway(gateway_factory: GatewayFactory) -> GatewayFactory:
    """`gateway_factory` with a startup allowance for a busy machine."""

    def start(config_text: str, **options: Any) -> GatewayProcess:
        options.setdefault("startup_timeout", 40.0)
        return gateway_factory(config_text, **options)

    return start  # type: ignore[return-value]
