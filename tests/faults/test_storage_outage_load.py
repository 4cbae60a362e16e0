"""F16: PostgreSQL goes away for a while under load (a relay the test cuts; the server stays up).

Proxied traffic does not notice: no request fails and none waits on the database (p99 stays
near the one before the outage). The usage records of the outage wait in the bounded queue and
land once the database is back, each exactly once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.storage._remotes import PostgresBackend
from tests.storage.backends import PG_DSN, require_postgres
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture
def postgres() -> Iterator[PostgresBackend]:
    asyncio.run(require_postgres())
    backend = PostgresBackend()
    yield backend
    backend.close()


async def usage_rows(schema: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.aiproxyapi_usage")
        if exists is None:
            return 0, 0
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM {schema}.aiproxyapi_usage"
        )
        return int(row["n"]), int(row["d"])
    finally:
        await conn.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


@pytest.mark.invariant(13)
def test_a_postgres_outage_under_load_fails_nothing_and_loses_no_record(
    postgres: PostgresBackend,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    fake_upstream.default = Reply.ok("one two three", chunk_delay=0.01)
    config = gateway_config(
        openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]),
        **{"usage-statistics-enabled": True},
    )
    gateway = gateway_factory(config, env=postgres.env(tmp_path))
    phase = ["before"]
    latencies: dict[str, list[float]] = {"before": [], "outage": [], "after": []}
    failures: list[str] = []
    stop = threading.Event()

    def load(stream: bool) -> None:
        body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        with httpx.Client(timeout=30, headers=HEADERS) as http:
            while not stop.is_set():
                started, now = time.monotonic(), phase[0]
                try:
                    answer = http.post(f"{gateway.base_url}/v1/chat/completions", json=body)
                    if answer.status_code != 200:
                        failures.append(f"{now}: status {answer.status_code}")
                        continue
                except httpx.HTTPError as exc:
                    failures.append(f"{now}: {exc!r}")
                    continue
                latencies[now].append(time.monotonic() - started)

    threads = [threading.Thread(target=load, args=(i == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(4)
        phase[0] = "outage"
        postgres.cut()
        time.sleep(6)
        phase[0] = "after"
        postgres.restore()
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert all(len(v) > 10 for v in latencies.values()), {k: len(v) for k, v in latencies.items()}
    # Nothing waited on the database: the per-call bound is 5 s, requests stay far below it.
    assert max(latencies["outage"]) < 2.0
    assert p99(latencies["outage"]) < 2 * p99(latencies["before"]) + 0.25
    served = sum(len(v) for v in latencies.values())
    deadline = time.monotonic() + 40
    rows = (0, 0)
    while time.monotonic() < deadline:
        rows = asyncio.run(usage_rows(postgres.schema))
        if rows[0] >= served:
            break
        time.sleep(0.5)
    assert rows == (served, served), (rows, served, gateway.log_text()[-2000:])
