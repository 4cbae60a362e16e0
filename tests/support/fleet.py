"""Several gateway processes acting as one: shared Redis, their own homes, one config text.

::

    with Fleet(tmp_path, config_text, size=3, env=...) as fleet:
        fleet[0].base_url, fleet.metric(1, "aiproxyapi_redis_up")

``redis_section(url)`` gives a `redis` config section with a key prefix no other test uses;
``forget_prefix(url, prefix)`` deletes a test's keys afterwards (never FLUSHDB: the machine's
Redis is shared). ``env_for(home)`` adds per-instance environment (a storage backend's
local mirror, for example). Instances start one after the other, so the first one seeds an
empty storage backend before the others read it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.gateway import GatewayProcess, free_port

__all__ = ["MACHINE_REDIS", "Fleet", "forget_prefix", "redis_section"]

MACHINE_REDIS = "redis://127.0.0.1:6379/0"


def redis_section(url: str = MACHINE_REDIS, **extra: Any) -> dict[str, Any]:
    """A `redis` section with a fresh key prefix (plus any other keys given)."""
    return {"url": url, "key-prefix": f"test-{uuid.uuid4().hex[:10]}:", **extra}


def forget_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (a test's own keys only)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        names = list(client.scan_iter(match=f"{prefix}*", count=500))
        for start in range(0, len(names), 500):
            client.delete(*names[start : start + 500])
    except redis.RedisError:
        pass  # a test's private server that is gone already
    finally:
        client.close()


class Fleet:
    """`size` gateway processes on loopback, each in tmp_path/gw-<n>, on one config text."""

    def __init__(
        self,
        tmp_path: Path,
        config_text: str,
        *,
        size: int = 3,
        env: Mapping[str, str] | None = None,
        env_for: Callable[[Path], Mapping[str, str]] | None = None,
        startup_timeout: float = 40.0,
    ) -> None:
        self.gateways: list[GatewayProcess] = []
        for number in range(size):
            home = tmp_path / f"gw-{number}"
            port = free_port()
            extra = dict(env_for(home)) if env_for is not None else {}
            self.gateways.append(
                GatewayProcess(
                    config_text,
                    tmp_path=home,
                    env={**(env or {}), **extra},
                    port=port,
                    extra_args=["--port", str(port)],
                    startup_timeout=startup_timeout,
                )
            )

    def __getitem__(self, index: int) -> GatewayProcess:
        return self.gateways[index]

    def __len__(self) -> int:
        return len(self.gateways)

    def start(self) -> Fleet:
        """Start every instance, one after the other; returns self."""
        for gateway in self.gateways:
            gateway.start()
        return self

    def stop(self) -> None:
        """Stop every instance."""
        for gateway in reversed(self.gateways):
            gateway.stop()

    def metric(self, index: int, name: str) -> float | None:
        """One unlabelled sample of instance `index`'s /metrics, or None when absent."""
        text = httpx.get(f"{self.gateways[index].base_url}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None

    def logs(self) -> str:
        """Every instance's log, each under a header (for assertion messages)."""
        return "\n".join(
            f"===== instance {n} =====\n{g.log_text()[-6000:]}" for n, g in enumerate(self.gateways)
        )

    def __enter__(self) -> Fleet:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
