"""Each login flow in-process against the fake authorization server: records, state, failures."""

from __future__ import annotations

import asyncio
import json
import stat
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auth._oauth import jwt_claims, parse_time
from auth.errors import AuthFlowError
from auth.flow import BrowserStep, DeviceStep, FlowStatus
from auth.logins import new_login
from storage import FileStore
from tests.support.fake_oauth import FakeOAuth
from tests.support.gateway import free_port


def _record(store: FileStore, name: str) -> dict[str, Any]:
    path = store.auth_dir / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def _browser(fake: FakeOAuth, url: str, *, deny: bool = False) -> httpx.Response:
    return await asyncio.to_thread(fake.browser, url, deny=deny)


async def _login_browser(
    name: str, fake: FakeOAuth, client: httpx.AsyncClient, store: FileStore, **options: Any
) -> tuple[Any, httpx.Response]:
    flow = new_login(name, client=client, store=store, callback_port=free_port(), **options)
    step = await flow.start()
    assert isinstance(step, BrowserStep)
    page = await _browser(fake, step.url)
    return await flow.wait(), page


async def test_claude_login_writes_the_record(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    result, page = await _login_browser("claude", fake_oauth, client, store)
    assert page.status_code == 200
    assert "Login complete" in page.text
    assert result.name == "claude-user@example.com.json"
    record = _record(store, result.name)
    assert record["type"] == "claude"
    assert record["email"] == "user@example.com"
    assert record["access_token"].startswith("claude-at-")
    assert record["refresh_token"].startswith("claude-rt-")
    assert record["organization_uuid"] == "org-uuid-1"
    assert record["account_uuid"] == "acct-uuid-1"
    expiry = parse_time(record["expired"])
    assert expiry is not None
    assert record["expired"].endswith("Z")
    assert parse_time(record["last_refresh"]) is not None
    [token_call] = fake_oauth.requests_to("claude.token")
    assert token_call.json is not None
    assert token_call.json["grant_type"] == "authorization_code"
    [authorize] = fake_oauth.requests_to("claude.authorize")
    assert authorize.query["code"] == "true"
    assert authorize.query["redirect_uri"].startswith("http://localhost:")


async def test_codex_login_names_the_record_by_email_and_plan(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    fake_oauth.account.codex_plan = "pro"
    result, _ = await _login_browser("codex", fake_oauth, client, store)
    assert result.name == "codex-user@example.com-pro.json"
    record = _record(store, result.name)
    assert record["account_id"] == "acc-1234"
    assert jwt_claims(record["id_token"])["email"] == "user@example.com"
    [authorize] = fake_oauth.requests_to("codex.authorize")
    assert authorize.path == "/codex/authorize"
    assert authorize.query["prompt"] == "login"


async def test_gemini_login_onboards_the_free_tier(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    fake_oauth.onboard_polls = 1  # a long-running operation: not done on the first call
    result, _ = await _login_browser("gemini", fake_oauth, client, store)
    assert result.name == "gemini-user@example.com-free-proj-1.json"
    record = _record(store, result.name)
    assert record["project_id"] == "free-proj-1"
    assert record["auto"] is True
    assert record["token"]["refresh_token"].startswith("google-rt-")
    assert parse_time(record["token"]["expiry"]) is not None
    onboards = [r for r in fake_oauth.requests if r.path.endswith(":onboardUser")]
    assert len(onboards) == 2
    assert "cloudaicompanionProject" not in onboards[0].form
    assert fake_oauth.code_assist_tier == "free-tier"


async def test_gemini_login_with_all_projects(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    result, _ = await _login_browser("gemini", fake_oauth, client, store, project_id="ALL")
    assert result.name == "gemini-user@example.com-all.json"
    record = _record(store, result.name)
    assert record["project_id"] == "proj-a,proj-b"
    assert record["auto"] is False
    loads = [r.json for r in fake_oauth.requests if r.path.endswith(":loadCodeAssist")]
    assert [body["cloudaicompanionProject"] for body in loads] == ["proj-a", "proj-b"]
    assert fake_oauth.onboarded_projects == ["proj-a"]  # the account's one onboarding


async def test_iflow_login_fetches_the_api_key(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    result, _ = await _login_browser("iflow", fake_oauth, client, store)
    assert result.name == "iflow-user@example.com.json"
    record = _record(store, result.name)
    assert record["api_key"] == "iflow-key-1"
    assert record["type"] == "iflow"
    [authorize] = fake_oauth.requests_to("iflow.authorize")
    assert authorize.query["redirect"].endswith("/oauth2callback")


async def test_a_callback_with_a_foreign_state_is_refused(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("claude", client=client, store=store, callback_port=free_port())
    step = await flow.start()
    assert isinstance(step, BrowserStep)
    target = await asyncio.to_thread(fake_oauth.redirect_for, step.url)
    forged = target.replace(f"state={step.state}", "state=forged")
    with pytest.raises(AuthFlowError, match="state does not match"):
        await flow.complete(forged)
    assert flow.status is FlowStatus.ERROR
    assert "state" in (flow.reason or "")
    assert list(store.auth_dir.glob("*.json")) == []
    assert fake_oauth.requests_to("claude.token") == []


async def test_a_pasted_callback_completes_the_login(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("codex", client=client, store=store, callback_port=free_port())
    step = await flow.start(listen=False)
    assert isinstance(step, BrowserStep)
    target = await asyncio.to_thread(fake_oauth.redirect_for, step.url)
    result = await flow.complete(target)
    assert flow.status is FlowStatus.OK
    assert flow.result == result
    assert (store.auth_dir / result.name).is_file()


async def test_denied_consent_fails_with_the_reason(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("gemini", client=client, store=store, callback_port=free_port())
    step = await flow.start()
    assert isinstance(step, BrowserStep)
    page = await _browser(fake_oauth, step.url, deny=True)
    assert page.status_code == 400
    assert "denied" in page.text
    with pytest.raises(AuthFlowError, match="refused"):
        await flow.wait()
    assert flow.status is FlowStatus.ERROR


async def test_no_callback_gives_up_after_the_timeout(
    client: httpx.AsyncClient, store: FileStore
) -> None:
    port = free_port()
    flow = new_login("claude", client=client, store=store, callback_port=port, timeout=0.3)
    await flow.start()
    with pytest.raises(AuthFlowError, match="no callback arrived"):
        await flow.wait()
    with pytest.raises(httpx.ConnectError):  # the callback server is closed again
        await client.get(f"http://127.0.0.1:{port}/callback")


async def test_a_busy_callback_port_says_what_to_do(
    client: httpx.AsyncClient, store: FileStore
) -> None:
    holder = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    try:
        flow = new_login("claude", client=client, store=store, callback_port=port)
        with pytest.raises(AuthFlowError, match="--oauth-callback-port"):
            await flow.start()
        assert flow.status is FlowStatus.ERROR
    finally:
        holder.close()


async def test_cancel_stops_the_flow(client: httpx.AsyncClient, store: FileStore) -> None:
    flow = new_login("iflow", client=client, store=store, callback_port=free_port())
    await flow.start()
    await flow.cancel()
    assert flow.status is FlowStatus.ERROR
    assert flow.reason == "the login was cancelled"
    with pytest.raises(AuthFlowError, match="cancelled"):
        await flow.wait()


async def test_other_paths_of_the_callback_server_are_not_found(
    client: httpx.AsyncClient, store: FileStore
) -> None:
    port = free_port()
    flow = new_login("codex", client=client, store=store, callback_port=port)
    await flow.start()
    try:
        answer = await client.get(f"http://127.0.0.1:{port}/elsewhere?code=x")
        assert answer.status_code == 404
        assert flow.status is FlowStatus.WAIT
    finally:
        await flow.cancel()


@pytest.mark.parametrize(
    ("name", "fake_name", "record_name"),
    [
        ("copilot", "github", "copilot-octocat.json"),
        ("qwen", "qwen", None),
        ("codex-device", "codex", "codex-user@example.com-plus.json"),
    ],
)
async def test_device_logins_poll_until_approved(
    fake_oauth: FakeOAuth,
    client: httpx.AsyncClient,
    store: FileStore,
    name: str,
    fake_name: str,
    record_name: str | None,
) -> None:
    fake_oauth.device_outcomes[fake_name] = ["pending", "pending", "ok"]
    lines: list[str] = []
    flow = new_login(name, client=client, store=store, progress=lines.append)
    step = await flow.start()
    assert isinstance(step, DeviceStep)
    assert step.user_code == "ABCD-1234"
    result = await flow.wait()
    if record_name is not None:
        assert result.name == record_name
    record = _record(store, result.name)
    assert record["access_token"]
    assert sum("waiting for the code" in line for line in lines) == 2


async def test_copilot_record_keeps_the_github_token(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("copilot", client=client, store=store)
    await flow.start()
    result = await flow.wait()
    record = _record(store, result.name)
    assert record["type"] == "copilot"
    assert record["login"] == "octocat"
    assert "expired" not in record
    assert "refresh_token" not in record
    assert fake_oauth.access_tokens[record["access_token"]]["provider"] == "github"


async def test_slow_down_takes_the_interval_the_server_asks(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    fake_oauth.device_outcomes["github"] = ["slow_down", "ok"]
    fake_oauth.slow_down_interval = 0.4
    lines: list[str] = []
    flow = new_login("copilot", client=client, store=store, progress=lines.append)
    await flow.start()
    await flow.wait()
    assert "the server asked to poll less often: every 0.4 s" in lines
    polls = [r for r in fake_oauth.requests_to("copilot.token")]
    assert len(polls) == 2


@pytest.mark.parametrize(("outcome", "message"), [("expired", "expired"), ("denied", "denied")])
async def test_device_flow_failures(
    fake_oauth: FakeOAuth,
    client: httpx.AsyncClient,
    store: FileStore,
    outcome: str,
    message: str,
) -> None:
    fake_oauth.device_outcomes["qwen"] = ["pending", outcome]
    flow = new_login("qwen", client=client, store=store)
    await flow.start()
    with pytest.raises(AuthFlowError, match=message):
        await flow.wait()
    assert flow.status is FlowStatus.ERROR
    assert list(store.auth_dir.glob("*.json")) == []


async def test_device_flow_ends_when_the_code_lifetime_is_over(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    fake_oauth.device_outcomes["github"] = ["pending"]
    flow = new_login("copilot", client=client, store=store, timeout=0.3)
    await flow.start()
    with pytest.raises(AuthFlowError, match="expired"):
        await flow.wait()


async def test_project_id_goes_with_the_gemini_login_only(
    client: httpx.AsyncClient, store: FileStore
) -> None:
    with pytest.raises(AuthFlowError, match="--project_id"):
        new_login("claude", client=client, store=store, project_id="p")
    with pytest.raises(AuthFlowError, match="unknown login"):
        new_login("nope", client=client, store=store)
    with pytest.raises(AuthFlowError, match="device flow"):
        new_login("qwen", client=client, store=store, callback_port=1)


async def test_logging_in_again_keeps_the_operators_fields(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    first, _ = await _login_browser("claude", fake_oauth, client, store)
    old = _record(store, first.name)
    path = store.auth_dir / first.name
    path.write_text(json.dumps({**old, "prefix": "team", "priority": 3, "disabled": True}))
    second, _ = await _login_browser("claude", fake_oauth, client, store)
    record = _record(store, second.name)
    assert record["access_token"] != old["access_token"]
    assert (record["prefix"], record["priority"], record["disabled"]) == ("team", 3, True)


async def test_a_pasted_code_and_state_pair_completes_the_login(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("claude", client=client, store=store, callback_port=free_port())
    step = await flow.start(listen=False)
    assert isinstance(step, BrowserStep)
    target = await asyncio.to_thread(fake_oauth.redirect_for, step.url)
    code = parse_qs(urlsplit(target).query)["code"][0]
    result = await flow.complete(f"{code}#{step.state}")
    assert result.name == "claude-user@example.com.json"


async def test_a_pasted_url_without_a_code_keeps_the_flow_waiting(
    client: httpx.AsyncClient, store: FileStore
) -> None:
    flow = new_login("claude", client=client, store=store, callback_port=free_port())
    step = await flow.start(listen=False)
    with pytest.raises(AuthFlowError, match="no authorization code"):
        flow.submit_callback(f"{step.redirect_uri}?state={step.state}")
    assert flow.status is FlowStatus.WAIT
    await flow.cancel()
