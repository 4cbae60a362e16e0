"""Three gateway processes on one Redis act as one gateway: cooldowns, turns, refresh, outage.

Real processes on loopback, driven with the OpenAI SDK, in front of the fake upstream (which
counts the requests each credential gets) and the fake OAuth server (which counts token calls).
The machine's Redis serves under a key prefix per test; the outage test starts its own
redis-server so it can stop it. The OAuth test shares auth records through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from aiproxyapi.config import parse_config
from aiproxyapi.pool import credentials_from_config
from storage.base import ChangeKind
from tests.storage._remotes import PostgresBackend
from tests.storage.backends import require_postgres
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_upstream import FakeUpstream
from tests.support.fleet import MACHINE_REDIS, Fleet, forget_prefix, redis_section
from tests.support.redis_server import RedisServer
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

KEYS = [f"sk-fleet-{name}-{secrets.token_hex(4)}" for name in "abc"]
PASSWORD = "mgmt-pass-" + secrets.token_hex(6)
MANAGEMENT = {"authorization": f"Bearer {PASSWORD}"}
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def fleet_config(upstream: FakeUpstream, redis: dict[str, Any], keys: list[str]) -> str:
    entry = openai_entry("up", upstream.base_url, keys, models=["m1"])
    return gateway_config(entry, redis=redis, metrics={"enable": True})


def chat(base_url: str, model: str = "m1") -> str:
    client = tracked(
        openai.OpenAI(base_url=f"{base_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    )
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return answer.choices[0].message.content or ""


def credential_ids(fleet: Fleet, text: str) -> dict[str, str]:
    """Each upstream key's credential id, as every instance names it."""
    config = parse_config(fleet[0].render(text)).config
    return {c.api_key.reveal(): c.id for c in credentials_from_config(config)}  # type: ignore[attr-defined]


def status(base_url: str, credential_id: str) -> str:
    auths = httpx.get(f"{base_url}/v0/management/auths", headers=MANAGEMENT, timeout=10)
    auths.raise_for_status()
    (row,) = [a for a in auths.json()["auths"] if a["auth_index"] == credential_id]
    return str(row["status"])


def wait_until(check: Callable[[], bool], what: str, fleet: Fleet, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}\n{fleet.logs()}")


def generated(upstream: FakeUpstream) -> list[str | None]:
    """The key of every generation request the upstream got, in order."""
    return [r.key for r in upstream.requests if r.endpoint == "generate"]


@pytest.fixture
def machine_redis() -> Iterator[dict[str, Any]]:
    section = redis_section(MACHINE_REDIS, **{"timeout-ms": 500})
    yield section
    forget_prefix(MACHINE_REDIS, section["key-prefix"])


def test_a_429_seen_by_one_instance_cools_the_credential_on_all(
    fake_upstream: FakeUpstream, machine_redis: dict[str, Any], tmp_path: Path
) -> None:
    text = fleet_config(fake_upstream, machine_redis, KEYS[:2])
    fake_upstream.script(Reply.error(429, retry_after=30), key=KEYS[0])
    with Fleet(tmp_path, text, env={"MANAGEMENT_PASSWORD": PASSWORD}) as fleet:
        ids = credential_ids(fleet, text)
        # Within two turns instance 0 reaches key a, meets its 429 and fails over to key b.
        for _ in range(2):
            assert chat(fleet[0].base_url).startswith("hello from key")
        assert len(fake_upstream.requests_for(KEYS[0])) == 1
        assert status(fleet[0].base_url, ids[KEYS[0]]) == "cooling"
        for other in (1, 2):
            wait_until(
                lambda n=other: status(fleet[n].base_url, ids[KEYS[0]]) == "cooling",
                f"instance {other} sees key a cooling",
                fleet,
                seconds=5,
            )
        for turn in range(12):
            assert chat(fleet[turn % 3].base_url).startswith("hello from key")
        # Key a got nothing more from any instance while it rests; key b took every request.
        assert len(fake_upstream.requests_for(KEYS[0])) == 1
        assert status(fleet[1].base_url, ids[KEYS[1]]) == "active"
        # A management reset on one instance clears the rest on all of them.
        reset = httpx.post(
            f"{fleet[2].base_url}/v0/management/reset-quota",
            json={"auth_index": ids[KEYS[0]]},
            headers=MANAGEMENT,
            timeout=10,
        )
        assert reset.status_code == 200, reset.text
        for other in (0, 1):
            wait_until(
                lambda n=other: status(fleet[n].base_url, ids[KEYS[0]]) == "active",
                f"instance {other} sees key a back after the reset",
                fleet,
                seconds=5,
            )


def test_round_robin_across_instances_stays_fair(
    fake_upstream: FakeUpstream, machine_redis: dict[str, Any], tmp_path: Path
) -> None:
    text = fleet_config(fake_upstream, machine_redis, KEYS)
    with Fleet(tmp_path, text) as fleet:
        # One request per instance in turn: the fleet walks the tier as one gateway would
        # (instances with cursors of their own would each start at the same key).
        for turn in range(9):
            chat(fleet[turn % 3].base_url)
        order = generated(fake_upstream)
        assert sorted(order[:3]) == sorted(KEYS), order
        assert order == order[:3] * 3, order
        # Concurrent requests spread over the three: every key gets exactly its share.
        fake_upstream.clear()
        with ThreadPoolExecutor(max_workers=9) as pool:
            answers = list(pool.map(lambda turn: chat(fleet[turn % 3].base_url), range(90)))
        assert all(answer.startswith("hello from key") for answer in answers)
        assert Counter(generated(fake_upstream)) == {key: 30 for key in KEYS}


def test_an_expiring_oauth_token_is_refreshed_exactly_once(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    machine_redis: dict[str, Any],
    tmp_path: Path,
) -> None:
    asyncio.run(require_postgres())
    backend = PostgresBackend()
    fake_oauth.expires_in = 8 * 3600  # beyond claude's 4 h lead: nothing is due by itself
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 8 * 3600))
    stale = str(data["access_token"])
    text = gateway_config(redis=machine_redis)
    env = {
        **fake_oauth.env(),
        "AIPROXYAPI_CLAUDE_API_URL": fake_upstream.root_url,
        "MANAGEMENT_PASSWORD": PASSWORD,
    }
    fleet = Fleet(tmp_path, text, env=env, env_for=backend.env)
    # The first instance seeds the empty backend with this record; the others read it there.
    (fleet[0].auth_dir / "claude-a.json").write_text(json.dumps(data))
    try:
        fleet.start()
        # The token expires early: the upstream refuses it from now on, on every instance.
        fake_oauth.revoke_access(stale)
        fake_upstream.set_default(Reply.error(401), key=stale)
        fake_oauth.token_delay = 1.0  # a slow provider: the three refreshes would overlap
        with ThreadPoolExecutor(max_workers=9) as pool:
            answers = list(
                pool.map(lambda turn: chat(fleet[turn % 3].base_url, CLAUDE_MODEL), range(9))
            )
        assert all(answer.startswith("hello from key") for answer in answers), fleet.logs()
        assert len(fake_oauth.requests_to("claude.token")) == 1, fleet.logs()
        renewed = {key for key in generated(fake_upstream) if key != stale}
        assert len(renewed) == 1
        (token,) = renewed
        assert token is not None
        assert fake_oauth.is_live(token)
        stored = backend.raw(ChangeKind.AUTH, "claude-a.json")
        assert stored is not None
        assert json.loads(stored)["access_token"] == token
        # Later requests on any instance use the renewed token without another refresh.
        for turn in range(3):
            chat(fleet[turn].base_url, CLAUDE_MODEL)
        assert len(fake_oauth.requests_to("claude.token")) == 1
        assert stale not in fleet.logs()
    finally:
        fleet.stop()
        backend.close()


@pytest.mark.invariant(13)
def test_redis_stopped_mid_test_requests_still_succeed_and_cooldowns_resync(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    with RedisServer(tmp_path / "redis") as server:
        section = redis_section(server.url, **{"timeout-ms": 500})
        text = fleet_config(fake_upstream, section, KEYS[:2])
        with Fleet(tmp_path, text, env={"MANAGEMENT_PASSWORD": PASSWORD}) as fleet:
            ids = credential_ids(fleet, text)
            assert [fleet.metric(n, "aiproxyapi_redis_up") for n in range(3)] == [1.0] * 3
            server.stop()
            for turn in range(9):
                started = time.monotonic()
                assert chat(fleet[turn % 3].base_url).startswith("hello from key")
                assert time.monotonic() - started < 5, "a down Redis must not hold a request"
            wait_until(
                lambda: [fleet.metric(n, "aiproxyapi_redis_up") for n in range(3)] == [0.0] * 3,
                "every instance reports Redis down",
                fleet,
            )
            # Alone: instance 0 meets a 429 on key a; only it knows for now.
            fake_upstream.script(Reply.error(429, retry_after=120), key=KEYS[0])
            for _ in range(2):
                assert chat(fleet[0].base_url).startswith("hello from key")
            assert status(fleet[0].base_url, ids[KEYS[0]]) == "cooling"
            assert status(fleet[1].base_url, ids[KEYS[0]]) == "active"
            server.start()  # empty: what the instances hold is published again
            wait_until(
                lambda: [fleet.metric(n, "aiproxyapi_redis_up") for n in range(3)] == [1.0] * 3,
                "every instance reports Redis up again",
                fleet,
            )
            for other in (1, 2):
                wait_until(
                    lambda n=other: status(fleet[n].base_url, ids[KEYS[0]]) == "cooling",
                    f"instance {other} learns of the rest after the outage",
                    fleet,
                    seconds=10,
                )
            for gateway in fleet.gateways:
                log = gateway.log_text()
                assert log.count("unreachable (") == 1, log  # one warning per outage
                assert log.count("shared state re-synced") == 1, log
            hits = len(fake_upstream.requests_for(KEYS[0]))
            for turn in range(6):
                chat(fleet[turn % 3].base_url)
            assert len(fake_upstream.requests_for(KEYS[0])) == hits
