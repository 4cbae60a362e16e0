"""F21: the wall clock jumps (+6 h, -10 min) under a running gateway, through libfaketime.

Only the wall clock moves (as an NTP step does); the monotonic clock does not. Cooldowns run on
the monotonic clock, so a jump neither sticks nor skips them; token expiry is wall time, so a
jump past expiry refreshes each token once, and jumping back causes no refresh storm.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_oauth_refresh import env_for, eventually, on_disk, rfc3339, write_record
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}
NAME = "claude-a.json"


def post(base_url: str, model: str = "m1") -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers=HEADERS,
        timeout=20,
    )


def jump(offset_file: Path, offset: str) -> None:
    """Move the gateway's wall clock; libfaketime re-reads the offset at least once a second."""
    offset_file.write_text(f"{offset}\n")
    time.sleep(1.2)


def openai_keys(upstream: FakeUpstream) -> list[str | None]:
    return [r.key for r in upstream.requests if r.dialect == "openai" and r.endpoint == "generate"]


@pytest.fixture
def faked_clock(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if not LIBFAKETIME.exists():
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    offset = tmp_path / "faketime-offset"
    jump(offset, "+0")
    env = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    return offset, env


@pytest.mark.invariant(5)
def test_wall_clock_jumps_neither_stick_nor_skip_cooldowns_nor_storm_refreshes(
    faked_clock: tuple[Path, dict[str, str]],
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    offset, clock_env = faked_clock
    auth_dir = tmp_path / "auths"
    # Valid for 5 h: with Claude's 4 h lead it is not due for an hour.
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 5 * 3600))
    write_record(auth_dir, NAME, data)
    config = gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    gateway = gateway_factory(config, env={**env_for(fake_oauth, fake_upstream), **clock_env})
    assert post(gateway.base_url).status_code == 200
    token_calls = len(fake_oauth.requests_to("claude.token"))
    assert token_calls == 0

    # A cooldown of 3 s (Retry-After) survives the wall clock going back 10 minutes...
    fake_upstream.clear()
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "3"}), key="sk-a")
    rested = time.monotonic()
    while "sk-a" not in openai_keys(fake_upstream):
        assert post(gateway.base_url).status_code == 200
    jump(offset, "-10m")
    while time.monotonic() - rested < 2.5:
        assert post(gateway.base_url).status_code == 200
    assert openai_keys(fake_upstream).count("sk-a") == 1  # not skipped
    # ...and ends on time: sk-a serves again soon after its 3 s, not 10 minutes later.
    fake_upstream.clear()
    deadline = time.monotonic() + 10
    while "sk-a" not in openai_keys(fake_upstream):
        assert time.monotonic() < deadline, "the cooldown stuck after the clock went back"
        assert post(gateway.base_url).status_code == 200
        time.sleep(0.2)
    assert time.monotonic() - rested < 3.0 + 4.0

    # A 60 s cooldown is not skipped by the wall clock jumping 6 h ahead.
    fake_upstream.clear()
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "60"}), key="sk-a")
    while "sk-a" not in openai_keys(fake_upstream):
        assert post(gateway.base_url).status_code == 200
    jump(offset, "+6h")
    for _ in range(6):
        assert post(gateway.base_url).status_code == 200
    assert openai_keys(fake_upstream).count("sk-a") == 1

    # 6 h ahead the Claude token is past its expiry: refreshed exactly once.
    assert eventually(
        lambda: on_disk(auth_dir, NAME)["access_token"] != data["access_token"], timeout=20
    ), gateway.log_text()
    time.sleep(3.0)  # several refresher ticks
    assert len(fake_oauth.requests_to("claude.token")) == 1
    assert post(gateway.base_url, "claude-sonnet-4-5-20250929").status_code == 200
    # Back to the real time: the new token looks valid for even longer; no refresh follows.
    jump(offset, "+0")
    time.sleep(3.0)
    assert len(fake_oauth.requests_to("claude.token")) == 1
    assert "Traceback" not in gateway.log_text()
