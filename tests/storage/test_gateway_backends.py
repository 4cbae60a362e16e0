"""The gateway process on PostgreSQL, S3 and Git: shared changes, outages, down at start.

Every test runs real gateway subprocesses against a real backend (PostgreSQL on 127.0.0.1:5432
in a schema of its own, reached through a relay this test can cut; moto's S3 server; a bare
Git repository with a switchable pre-receive hook) and a fake upstream on loopback.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storage.base import ChangeKind
from storage.crypto import MAGIC
from tests.storage._remotes import GitBackend, PostgresBackend, Remote, S3Backend
from tests.storage.backends import require_postgres
from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayError, GatewayProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

KEY_A = "sk-client-canary-a-" + secrets.token_hex(6)
KEY_B = "sk-client-canary-b-" + secrets.token_hex(6)
TOKEN = "rt-canary-" + secrets.token_hex(8)
BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
KINDS = ["postgres", "s3", "git"]


@pytest.fixture(params=KINDS)
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    if request.param == "postgres":
        asyncio.run(require_postgres())
        backend: Remote = PostgresBackend()
    elif request.param == "s3":
        backend = S3Backend()
    else:
        backend = GitBackend(tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def started(remote: Remote, tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateway instances on the remote, each in tmp_path/<name> with its own mirror."""
    processes: list[GatewayProcess] = []

    def start(
        name: str,
        config: str,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        seed: dict[str, bytes] | None = None,
    ) -> GatewayProcess:
        home = tmp_path / name
        for record, data in (seed or {}).items():
            write_file(home / "auths" / record, data)
        port = port or free_port()
        gateway = GatewayProcess(
            config,
            tmp_path=home,
            env={**remote.env(home), **(env or {})},
            port=port,
            extra_args=["--port", str(port)],
            startup_timeout=40,
        )
        processes.append(gateway)
        return gateway.start()

    yield start
    for gateway in reversed(processes):
        gateway.stop()


def post(gateway: GatewayProcess, key: str) -> int:
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=BODY,
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )
    return response.status_code


def storage_health(gateway: GatewayProcess) -> dict[str, object]:
    body = httpx.get(f"{gateway.base_url}/healthz?verbose=1", timeout=10).json()
    health: dict[str, object] = body["storage"]
    return health


def wait_until(check: Callable[[], bool], what: str, *gateways: GatewayProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    logs = "\n".join(g.log_text()[-4000:] for g in gateways)
    raise AssertionError(f"never happened: {what}\n{logs}")


def write_file(path: Path, data: bytes) -> None:
    """An edit as an operator's tool makes it: a temp file renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.edit")
    temp.write_bytes(data)
    os.replace(temp, path)


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def test_two_gateways_on_one_backend_see_each_others_changes(
    remote: Remote, started: Callable[..., GatewayProcess], fake_upstream: FakeUpstream
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-upstream-1"])
    key = {"AIPROXYAPI_STORE_KEY": secrets.token_hex(32)}
    seeded = f'{{"type": "claude", "refresh_token": "{TOKEN}-seed"}}'.encode()
    config_a = gateway_config(entry, api_keys=[KEY_A])
    a = started("a", config_a, env=key, seed={"claude-seed@example.com.json": seeded})
    # b's own config file is only a seed for an empty backend: this one is ignored.
    b = started("b", "port: {port}\napi-keys: [sk-client-never-used-1]\n", env=key)
    mirror_a, mirror_b = remote.mirror(a.tmp_path), remote.mirror(b.tmp_path)

    assert post(b, KEY_A) == 200, b.log_text()  # b serves the config a seeded
    assert read(mirror_b / "auths" / "claude-seed@example.com.json") == seeded
    stored = remote.raw(ChangeKind.AUTH, "claude-seed@example.com.json") or b""
    assert stored.startswith(MAGIC)
    assert TOKEN.encode() not in stored
    assert KEY_A.encode() not in (remote.raw(ChangeKind.CONFIG) or b"")

    # A config edit on a (its mirror's config file) reaches b: a new client key works there.
    write_file(
        mirror_a / "config" / "config.yaml",
        a.render(gateway_config(entry, api_keys=[KEY_A, KEY_B])).encode(),
    )
    wait_until(lambda: post(a, KEY_B) == 200, "a accepts the new key", a)
    wait_until(lambda: post(b, KEY_B) == 200, "b accepts the key added on a", a, b)

    # An auth record written on b (as a login would) reaches a, encrypted on the way.
    record = f'{{"type": "codex", "refresh_token": "{TOKEN}-b"}}'.encode()
    write_file(mirror_b / "auths" / "codex-b@example.com.json", record)
    target = mirror_a / "auths" / "codex-b@example.com.json"
    wait_until(lambda: read(target) == record, "a has b's auth record", a, b)
    assert TOKEN.encode() not in (remote.raw(ChangeKind.AUTH, "codex-b@example.com.json") or b"")

    # A deletion on a reaches b and the backend.
    target.unlink()
    gone = mirror_b / "auths" / "codex-b@example.com.json"
    wait_until(lambda: not gone.exists(), "b dropped the record a deleted", a, b)
    wait_until(
        lambda: remote.raw(ChangeKind.AUTH, "codex-b@example.com.json") is None,
        "backend dropped it",
    )

    banner = httpx.get(f"{b.base_url}/", timeout=10).json()
    assert banner["storage"] == {
        "backend": remote.kind,
        "state": "ok",
        "queued": 0,
        "last_error": "",
    }
    for gateway in (a, b):
        logs = gateway.log_text()
        assert f"storage: {remote.kind} (" in logs
        assert "encrypted," in logs
        for secret in (TOKEN, KEY_A, KEY_B, key["AIPROXYAPI_STORE_KEY"], "test-secret-canary"):
            assert secret not in logs


@pytest.mark.invariant(13)
def test_backend_outage_keeps_serving_and_loses_no_write(
    remote: Remote, started: Callable[..., GatewayProcess], fake_upstream: FakeUpstream
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-upstream-1"])
    a = started("a", gateway_config(entry, api_keys=[KEY_A]))
    mirror = remote.mirror(a.tmp_path)
    assert "plain text" in a.log_text()  # no store key: the operator is told, once
    assert post(a, KEY_A) == 200

    remote.cut()
    record = f'{{"type": "claude", "refresh_token": "{TOKEN}-outage"}}'.encode()
    write_file(mirror / "auths" / "claude-outage@example.com.json", record)
    write_file(
        mirror / "config" / "config.yaml",
        a.render(gateway_config(entry, api_keys=[KEY_A, KEY_B])).encode(),
    )
    for _ in range(5):
        assert post(a, KEY_A) == 200
    wait_until(lambda: post(a, KEY_B) == 200, "the edit applies during the outage", a)
    wait_until(
        lambda: storage_health(a)["state"] == "degraded" and storage_health(a)["queued"] == 2,
        "health shows the outage and two queued writes",
        a,
    )
    assert storage_health(a)["last_error"]

    # Restarted while the backend is still down: starts from the mirror, the queue survives.
    a.restart()
    assert storage_health(a)["state"] == "degraded"
    assert storage_health(a)["queued"] == 2
    assert post(a, KEY_B) == 200

    remote.restore()
    wait_until(
        lambda: (
            storage_health(a)
            == {"backend": remote.kind, "state": "ok", "queued": 0, "last_error": ""}
        ),
        "the queue flushed once the backend is back",
        a,
    )
    assert remote.raw(ChangeKind.AUTH, "claude-outage@example.com.json") == record
    assert KEY_B.encode() in (remote.raw(ChangeKind.CONFIG) or b"")

    # A second instance started now finds everything written during the outage.
    b = started("b", "port: {port}\n")
    assert post(b, KEY_B) == 200
    assert read(remote.mirror(b.tmp_path) / "auths" / "claude-outage@example.com.json") == record


def test_backend_down_at_start_without_a_mirror_exits_with_one_line(
    remote: Remote, tmp_path: Path
) -> None:
    remote.cut()
    home = tmp_path / "lonely"
    env = remote.env(home)
    if remote.kind == "git":  # a refused push still lets git read: make the remote unreachable
        env["GITSTORE_GIT_URL"] = f"http://127.0.0.1:{free_port()}/nothing.git"
    gateway = GatewayProcess("port: {port}\n", tmp_path=home, env=env, startup_timeout=40)
    with pytest.raises(GatewayError):
        gateway.start()
    assert gateway.returncode not in (0, None)
    stderr = gateway.stderr_path.read_text()
    lines = [line for line in stderr.splitlines() if line.startswith("aiproxyapi: storage:")]
    assert len(lines) == 1, stderr
    assert "unreachable" in lines[0]
    assert "no local mirror" in lines[0]
    assert "Traceback" not in stderr
