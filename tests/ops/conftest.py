"""The ops tests start many gateways on a shared machine: give each start more time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess


@pytest.fixture
def gateway_factory(gateway_factory: GatewayFactory) -> GatewayFactory:
    """The shared factory with a 60 s start-up allowance unless a test sets its own."""

    def start(config_text: str, **options: Any) -> GatewayProcess:
        options.setdefault("startup_timeout", 60.0)
        return gateway_factory(config_text, **options)

    return start
