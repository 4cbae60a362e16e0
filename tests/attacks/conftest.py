"""One gateway for the attack tests, loaded with canary secrets and every log switched on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess


def canary(kind: str) -> str:
    """A unique secret that a scan can find anywhere it leaks."""
    return f"sk-canary-{kind}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Canaries:
    """The secrets of the shared attack gateway."""

    client: str
    other_client: str
    management: str
    upstream: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (self.client, self.other_client, self.management, *self.upstream)


@pytest.fixture(scope="session")
def canaries() -> Canaries:
    return Canaries(
        client=canary("client"),
        other_client=canary("client2"),
        management=canary("mgmt"),
        upstream=tuple(canary(f"up{i}") for i in range(3)),
    )


@pytest.fixture(scope="module")
def attack_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def cheap_hash(secret: str) -> str:
    """The bcrypt hash of a secret at the lowest cost (tests only: fast to check)."""
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode()


def attack_config(upstream: FakeUpstream, canaries: Canaries, **settings: object) -> str:
    """The attack gateway's config: two client keys, three upstream keys, a management secret."""
    document: dict[str, object] = {
        "debug": True,
        "logging-to-file": True,
        "request-log": True,
        "usage-statistics-enabled": True,
        # Stored hashed at bcrypt's lowest cost, so a wrong-key matrix stays quick.
        "remote-management": {"secret-key": cheap_hash(canaries.management)},
    }
    document.update(settings)
    entry = openai_entry("up", upstream.base_url, canaries.upstream)
    return gateway_config(entry, api_keys=[canaries.client, canaries.other_client], **document)


@pytest.fixture(scope="module")
def attack_gateway(
    attack_upstream: FakeUpstream, canaries: Canaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    home: Path = tmp_path_factory.mktemp("attack")
    config = attack_config(attack_upstream, canaries)
    with GatewayProcess(config, tmp_path=home, startup_timeout=40.0) as gateway:
        yield gateway
