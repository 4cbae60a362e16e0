"""Token lifecycle end to end: the real refresh functions against the fake authorization server.

The gateway runs as a process; `auth.refresh` renews tokens at `FakeOAuth`, the fake upstream
serves the model calls. Refreshed records land in auth-dir before their token is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from aiproxyapi.accounts import parse_record
from tests.support.configs import CLIENT_KEY, gateway_config
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

CONFIG = gateway_config()
MODEL = "claude-sonnet-4-5-20250929"


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@pytest.fixture
def fake_oauth() -> Iterator[FakeOAuth]:
    with FakeOAuth() as fake:
        yield fake


def env_for(oauth: FakeOAuth, up: FakeUpstream, **extra: str) -> dict[str, str]:
    """Logins and refreshes at the fake authorization server, model calls at the fake upstream."""
    return {
        **oauth.env(),
        "AIPROXYAPI_CLAUDE_API_URL": up.root_url,
        "AIPROXYAPI_CODEX_API_URL": up.codex_base_url,
        "AIPROXYAPI_GEMINI_CODE_ASSIST_URL": up.root_url,
        "AIPROXYAPI_QWEN_API_URL": up.base_url,
        "AIPROXYAPI_IFLOW_API_URL": up.base_url,
        **extra,
    }


def write_record(auth_dir: Path, name: str, data: dict[str, object]) -> None:
    auth_dir.mkdir(parents=True, exist_ok=True)
    (auth_dir / name).write_text(json.dumps(data, indent=2))
    os.chmod(auth_dir / name, 0o600)


def on_disk(auth_dir: Path, name: str) -> dict[str, object]:
    return json.loads((auth_dir / name).read_bytes())


def eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ValueError, OSError):
            if predicate():
                return True
        time.sleep(0.1)
    return False


def chat(base_url: str, model: str = MODEL) -> str:
    client = tracked(
        openai.OpenAI(base_url=f"{base_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    )
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return answer.choices[0].message.content or ""


@pytest.mark.parametrize("kind", ["claude", "codex", "qwen", "iflow", "gemini"])
def test_an_expiring_token_is_refreshed_ahead_of_time(
    kind: str,
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    # One minute left: inside every provider's lead time.
    data = fake_oauth.make_record(kind, expired=rfc3339(time.time() + 60))
    old = json.dumps(data)
    name = f"{kind}-due.json"
    write_record(tmp_path / "auths", name, data)
    gateway = gateway_factory(CONFIG, env=env_for(fake_oauth, fake_upstream))
    auth_dir = tmp_path / "auths"
    assert eventually(lambda: json.dumps(on_disk(auth_dir, name)) != old), gateway.log_text()
    renewed = parse_record(name, (auth_dir / name).read_bytes())
    assert renewed.channel == ("gemini-cli" if kind == "gemini" else kind)
    assert (auth_dir / name).stat().st_mode & 0o777 == 0o600
    model = {
        "claude": MODEL,
        "codex": "gpt-5-codex",
        "qwen": "qwen3-coder-plus",
        "iflow": "kimi-k2",
        "gemini": "gemini-2.5-pro",
    }[kind]
    assert chat(gateway.base_url, model).startswith("hello from key")
    sent = [r for r in fake_upstream.requests if r.endpoint == "generate"][-1]
    stored = on_disk(auth_dir, name)
    if kind == "iflow":
        assert sent.key == stored["api_key"]  # iFlow's upstream takes the platform key
    else:
        assert sent.key is not None
        assert fake_oauth.is_live(sent.key)  # the renewed token, issued by the fake
    body = httpx.get(f"{gateway.base_url}/usage", timeout=5).json()
    (row,) = [r for r in body["credentials"] if r["id"] == name]
    assert row["state"] == "active"
    assert row["last_refresh"] is not None


@pytest.mark.parametrize(("kind", "model"), [("copilot", "gpt-4.1"), ("vertex", "gemini-2.5-pro")])
def test_minted_tokens_come_from_the_authorization_server(
    kind: str,
    model: str,
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record(kind)
    write_record(tmp_path / "auths", f"{kind}-a.json", data)
    env = env_for(fake_oauth, fake_upstream, AIPROXYAPI_VERTEX_API_URL=fake_upstream.root_url)
    if kind == "copilot":
        env["AIPROXYAPI_COPILOT_API_URL"] = fake_upstream.base_url
    gateway = gateway_factory(CONFIG, env=env)
    assert chat(gateway.base_url, model).startswith("hello from key")
    (sent,) = [r for r in fake_upstream.requests if r.endpoint == "generate"]
    assert sent.key is not None
    assert fake_oauth.is_live(sent.key)
    assert on_disk(tmp_path / "auths", f"{kind}-a.json") == data  # derived tokens are not stored


def test_a_401_refreshes_the_token_and_retries(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 30 * 86400))
    write_record(tmp_path / "auths", "claude-a.json", data)
    gateway = gateway_factory(CONFIG, env=env_for(fake_oauth, fake_upstream))
    fake_upstream.script(Reply.error(401))
    assert chat(gateway.base_url).startswith("hello from key")
    first, second = [r for r in fake_upstream.requests if r.endpoint == "generate"]
    assert first.key == data["access_token"]
    assert second.key != first.key
    assert second.key is not None
    assert fake_oauth.is_live(second.key)
    stored = on_disk(tmp_path / "auths", "claude-a.json")
    assert stored["access_token"] == second.key  # stored, and it is the token that was used
    assert len(fake_oauth.requests_to("claude.token")) == 1
    assert str(data["access_token"]) not in gateway.log_text()


def test_a_failed_refresh_shows_the_error_and_takes_the_account_out(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 60))
    fake_oauth.revoke(str(data["refresh_token"]))
    write_record(tmp_path / "auths", "claude-a.json", data)
    password = "mgmt-pass-for-the-test"
    env = env_for(fake_oauth, fake_upstream, MANAGEMENT_PASSWORD=password)
    gateway = gateway_factory(CONFIG, env=env)

    def state() -> dict[str, object]:
        rows = httpx.get(f"{gateway.base_url}/usage", timeout=5).json()["credentials"]
        return next(r for r in rows if r["id"] == "claude-a.json")

    assert eventually(lambda: state()["state"] == "error"), gateway.log_text()
    assert state()["last_error"]
    # Every status view agrees: metrics, the management auth-files listing and /auths.
    metrics = httpx.get(f"{gateway.base_url}/metrics", timeout=5).text
    assert any(
        line.startswith("aiproxyapi_credentials{") and 'state="error"' in line
        for line in metrics.splitlines()
    ), metrics
    management = {"authorization": f"Bearer {password}"}
    files = httpx.get(
        f"{gateway.base_url}/v0/management/auth-files", headers=management, timeout=5
    ).json()["files"]
    [listed] = [f for f in files if f["name"] == "claude-a.json"]
    assert listed["status"] == "error"
    assert listed["unavailable"] is True
    auths = httpx.get(f"{gateway.base_url}/v0/management/auths", headers=management, timeout=5)
    [auth] = [a for a in auths.json()["auths"] if a["auth_index"] == "claude-a.json"]
    assert auth["status"] == "error"
    assert "TOKEN REFRESH FAILED for claude-a.json" in gateway.log_text()
    assert str(data["refresh_token"]) not in gateway.log_text()
    client = tracked(
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    )
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert [r for r in fake_upstream.requests if r.endpoint == "generate"] == []


@contextlib.contextmanager
def hanging_endpoint() -> Iterator[tuple[str, threading.Event]]:
    """A URL whose server accepts connections and never answers; the event marks the first one."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    called = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                held.append(conn)
                called.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/token", called
    finally:
        listener.close()
        for conn in held:
            conn.close()
        thread.join(5)


@pytest.mark.invariant(5)
def test_a_process_killed_during_a_refresh_leaves_a_usable_record(
    fake_oauth: FakeOAuth,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    data = fake_oauth.make_record("claude", expired=rfc3339(time.time() + 120))
    auth_dir = tmp_path / "auths"
    write_record(auth_dir, "claude-a.json", data)
    before = (auth_dir / "claude-a.json").read_bytes()
    with hanging_endpoint() as (token_url, called):
        env = env_for(fake_oauth, fake_upstream, AIPROXYAPI_CLAUDE_TOKEN_URL=token_url)
        gateway = gateway_factory(CONFIG, env=env)
        assert called.wait(20), gateway.log_text()  # the refresh is in flight
        assert gateway.pid is not None
        os.killpg(gateway.pid, signal.SIGKILL)
        gateway.stop()
    assert gateway.returncode == -signal.SIGKILL
    assert (auth_dir / "claude-a.json").read_bytes() == before  # the old record, whole
    assert [p.name for p in auth_dir.iterdir() if p.is_file()] == ["claude-a.json"]
    # Restarted against the real token endpoint, the same record refreshes and serves.
    gateway.env = env_for(fake_oauth, fake_upstream)
    gateway.start()
    assert eventually(
        lambda: on_disk(auth_dir, "claude-a.json")["access_token"] != data["access_token"]
    ), gateway.log_text()
    assert chat(gateway.base_url).startswith("hello from key")
    sent = [r for r in fake_upstream.requests if r.endpoint == "generate"][-1]
    assert sent.key == on_disk(auth_dir, "claude-a.json")["access_token"]
