"""Refresh faults end to end: F10 single flight, F11 edit during a refresh, F13 kill loop.

The gateway runs as a process; its Claude token URL points at a relay that holds each call
until the test lets it through to FakeOAuth, which rotates refresh tokens and revokes the old
one at once (as Claude does).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_oauth_refresh import env_for, eventually, on_disk, rfc3339, write_record
from tests.faults._held_token import HeldTokenEndpoint
from tests.faults.profile import runs
from tests.support.configs import CLIENT_KEY, gateway_config
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory

pytestmark = pytest.mark.e2e

CONFIG = gateway_config()
MODEL = "claude-sonnet-4-5-20250929"
NAME = "claude-a.json"
MANAGEMENT = "mgmt-secret-for-refresh-faults"


def chat(base_url: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=60,
    )


@pytest.mark.invariant(5)
def test_fifty_requests_on_an_expired_token_make_one_token_call(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() - 60))
    write_record(tmp_path / "auths", NAME, data)
    with HeldTokenEndpoint(fake_oauth.url("claude.token")) as held:
        env = env_for(fake_oauth, fake_upstream, AIPROXYAPI_CLAUDE_TOKEN_URL=held.url)
        gateway = gateway_factory(CONFIG, env=env)
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            answers = [pool.submit(chat, gateway.base_url) for _ in range(50)]
            assert held.entered.wait(20)
            time.sleep(1.0)  # all fifty are waiting on the one refresh now
            held.release.set()
            statuses = [answer.result().status_code for answer in answers]
    assert statuses == [200] * 50
    assert held.calls == 1
    assert len(fake_oauth.requests_to("claude.token")) == 1
    stored = on_disk(tmp_path / "auths", NAME)
    sent = {r.key for r in fake_upstream.requests if r.endpoint == "generate"}
    assert sent == {stored["access_token"]}  # every request used the one new token


@pytest.mark.invariant(5)
def test_a_management_edit_during_a_refresh_is_kept_with_the_new_token(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 60))  # due now
    write_record(tmp_path / "auths", NAME, data)
    with HeldTokenEndpoint(fake_oauth.url("claude.token")) as held:
        env = env_for(
            fake_oauth,
            fake_upstream,
            AIPROXYAPI_CLAUDE_TOKEN_URL=held.url,
            MANAGEMENT_PASSWORD=MANAGEMENT,
        )
        gateway = gateway_factory(CONFIG, env=env)
        assert held.entered.wait(20), gateway.log_text()  # the refresh is at the token endpoint
        edit = httpx.patch(
            f"{gateway.base_url}/v0/management/auth-files/fields",
            json={"name": NAME, "label": "edited during refresh", "priority": 7},
            headers={"authorization": f"Bearer {MANAGEMENT}"},
            timeout=10,
        )
        assert edit.status_code == 200, edit.text
        held.release.set()
        auth_dir = tmp_path / "auths"
        assert eventually(lambda: on_disk(auth_dir, NAME)["access_token"] != data["access_token"])
    stored = on_disk(auth_dir, NAME)
    assert stored["label"] == "edited during refresh"
    assert stored["priority"] == 7
    assert stored["refresh_token"] != data["refresh_token"]
    assert chat(gateway.base_url).status_code == 200
    sent = [r for r in fake_upstream.requests if r.endpoint == "generate"][-1]
    assert sent.key == stored["access_token"]


@pytest.mark.invariant(5, 7)
@pytest.mark.timeout(runs(120, 3600))
def test_kills_during_refreshes_never_leave_a_broken_record(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    """SIGKILL at random moments around the token call; the record is always old or new.

    A kill before the token call goes out leaves the record untouched and its token working; a
    new record on disk always holds the rotated, working token; the start after each kill
    sweeps the temp file it left.
    """
    rng = random.Random(13)
    auth_dir = tmp_path / "auths"
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 60))
    write_record(auth_dir, NAME, data)
    total = runs(4, 200)
    lost = 0
    gateway = None
    for attempt in range(total):
        with HeldTokenEndpoint(fake_oauth.url("claude.token")) as held:
            env = env_for(fake_oauth, fake_upstream, AIPROXYAPI_CLAUDE_TOKEN_URL=held.url)
            if gateway is None:
                gateway = gateway_factory(CONFIG, env=env)
            else:
                gateway.env = env
                gateway.start()
            assert held.entered.wait(20), gateway.log_text()
            # The start swept whatever temp file the previous kill left; the refresh is held.
            assert [p.name for p in auth_dir.iterdir() if p.is_file()] == [NAME], attempt
            before = (auth_dir / NAME).read_bytes()
            # One run in three is killed while its call is still held (nothing rotated yet);
            # the others at a random moment after the call went through.
            released = attempt % 3 != 0
            if released:
                held.release.set()
                time.sleep(rng.uniform(0.0, 0.15))  # somewhere around the answer and the store
            assert gateway.pid is not None
            os.killpg(gateway.pid, signal.SIGKILL)
            gateway.stop()
        raw = (auth_dir / NAME).read_bytes()
        stored = json.loads(raw)  # always parses
        live = fake_oauth.refresh_tokens.get(stored["refresh_token"], {}).get("active", False)
        if raw != before:
            assert live, attempt  # a new record on disk is the rotated, working grant
        if not released:
            assert raw == before, attempt  # killed before the token call went out: untouched
            assert live, attempt
        if not live:
            lost += 1
            # Re-seed the run with a fresh grant, as a new login would.
            fresh = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 60))
            write_record(auth_dir, NAME, fresh)
        else:
            # Make the next run refresh again: due within the lead time.
            stored["expired"] = rfc3339(time.time() + 60)
            write_record(auth_dir, NAME, stored)
    # A token is lost only by a kill after the token endpoint rotated it and before the new
    # record was stored: the window the document allows (reported, not judged: it is timing).
    print(f"{total} kills during refreshes, {lost} inside the answer-to-store window")
