"""Account logins started through the management API, against the fake authorization server."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.management.support import mgmt, mgmt_config
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e


def _status(client: httpx.Client, state: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer: dict[str, Any] = client.get("/get-auth-status", params={"state": state}).json()
        if answer.get("status") != "wait":
            return answer
        time.sleep(0.1)
    raise AssertionError(f"the login of {state} did not finish")


@pytest.fixture
def login_gateway(
    fake_oauth: FakeOAuth, fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> GatewayProcess:
    return start_gateway(mgmt_config(fake_upstream.base_url), env=fake_oauth.env())


def test_a_browser_login_finished_by_a_pasted_redirect(
    fake_oauth: FakeOAuth, login_gateway: GatewayProcess
) -> None:
    with mgmt(login_gateway) as client:
        started = client.get("/anthropic-auth-url").json()
        assert started["status"] == "ok"
        assert started["url"].startswith(fake_oauth.root_url)
        state = started["state"]
        assert client.get("/get-auth-status", params={"state": state}).json() == {"status": "wait"}
        redirect = fake_oauth.redirect_for(started["url"])
    with mgmt(login_gateway, key=None) as anonymous:
        forged = redirect.replace(f"state={state}", "state=not-the-state")
        refused = anonymous.post("/oauth-callback", json={"redirect_url": forged})
        assert refused.status_code == 400
        done = anonymous.post("/oauth-callback", json={"redirect_url": redirect})
        assert done.json() == {"status": "ok", "state": state}
        assert anonymous.get("/get-auth-status", params={"state": state}).status_code == 401
    with mgmt(login_gateway) as client:
        finished = _status(client, state)
        assert finished["status"] == "ok"
        assert finished["name"] == "claude-user@example.com.json"
        listed = client.get("/auth-files").json()["files"]
        assert [f["name"] for f in listed] == ["claude-user@example.com.json"]
        assert "access_token" not in json.dumps(listed)
        assert client.get("/get-auth-status", params={"state": state}).status_code == 404
    record = json.loads((login_gateway.auth_dir / "claude-user@example.com.json").read_text())
    assert record["type"] == "claude"


def test_a_device_login(fake_oauth: FakeOAuth, login_gateway: GatewayProcess) -> None:
    with mgmt(login_gateway) as client:
        started = client.get("/copilot-auth-url").json()
        assert started["flow"] == "device"
        assert started["user_code"] == "ABCD-1234"
        assert started["expires_in"] > 0
        finished = _status(client, started["state"])
        assert finished["status"] == "ok"
        assert (login_gateway.auth_dir / finished["name"]).is_file()


def test_every_start_route_answers(fake_oauth: FakeOAuth, login_gateway: GatewayProcess) -> None:
    with mgmt(login_gateway) as client:
        for route in ("codex-auth-url", "gemini-cli-auth-url", "iflow-auth-url"):
            started = client.get(f"/{route}").json()
            assert started["status"] == "ok", route
            assert started["url"].startswith(fake_oauth.root_url), route
            assert client.delete("/oauth-session", params={"state": started["state"]}).is_success
            assert (
                client.get("/get-auth-status", params={"state": started["state"]}).status_code
                == 404
            )
        device = client.get("/codex-auth-url", params={"device": "true"}).json()
        assert device["flow"] == "device"
        qwen = client.get("/qwen-auth-url").json()
        assert qwen["flow"] == "device"
        for state in (device["state"], qwen["state"]):
            assert client.delete("/oauth-session", params={"state": state}).is_success


def test_a_failed_login_reports_its_reason(
    fake_oauth: FakeOAuth, login_gateway: GatewayProcess
) -> None:
    with mgmt(login_gateway) as client:
        started = client.get("/anthropic-auth-url").json()
        denied = fake_oauth.redirect_for(started["url"], deny=True)
        with mgmt(login_gateway, key=None) as anonymous:
            assert (
                anonymous.post("/oauth-callback", json={"redirect_url": denied}).status_code == 400
            )
        finished = _status(client, started["state"])
        assert finished["status"] == "error"
        assert "refused" in finished["error"]


def test_the_callback_is_off_with_management(
    fake_oauth: FakeOAuth, fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url, secret=None), env=fake_oauth.env())
    with mgmt(gateway, key=None) as anonymous:
        assert (
            anonymous.post(
                "/oauth-callback", json={"redirect_url": "http://x/?state=a"}
            ).status_code
            == 404
        )
        assert anonymous.get("/anthropic-auth-url").status_code == 404
