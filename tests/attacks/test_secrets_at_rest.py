"""A11-A13: secrets in logs, usage, metrics and stores; file modes; the shipped defaults."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage.crypto import EncryptedStore
from storage.file import warn_if_exposed
from storage.git import GitStore
from tests.attacks.conftest import Canaries, attack_config, canary
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess, free_port
from tests.support.replies import Reply

REPO = Path(__file__).resolve().parents[2]
CHAT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
# Shapes of real secrets (reliability.md A11); `$2b$` is the management secret's bcrypt hash.
SECRET_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,}|ya29\.[0-9A-Za-z_-]+|\$2[aby]\$"
)


@pytest.fixture(scope="module")
def logged_gateway(
    attack_upstream: FakeUpstream, canaries: Canaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = attack_config(attack_upstream, canaries, metrics={"enable": True})
    home = tmp_path_factory.mktemp("logged")
    with GatewayProcess(config, tmp_path=home, startup_timeout=40.0) as gateway:
        yield gateway


@pytest.mark.invariant(4, 2)
def test_no_secret_in_logs_usage_metrics_or_listings(
    logged_gateway: GatewayProcess, attack_upstream: FakeUpstream, canaries: Canaries
) -> None:
    gateway = logged_gateway
    refresh, access_token = canary("rt"), canary("at")
    client = {"authorization": f"Bearer {canaries.client}"}
    url = f"{gateway.base_url}/v1/chat/completions"
    answers: list[str] = []

    def keep(response: httpx.Response) -> httpx.Response:
        answers.append(f"{response.status_code} {response.headers} {response.text}")
        return response

    assert keep(httpx.post(url, json=CHAT, headers=client, timeout=15)).status_code == 200
    assert keep(
        httpx.post(url, json={**CHAT, "stream": True}, headers=client, timeout=15)
    ).is_success
    for key in canaries.upstream:
        attack_upstream.script(Reply.echo_key(400), key=key)
    keep(httpx.post(url, json=CHAT, headers=client, timeout=15))
    attack_upstream.clear(scripts=True)
    wrong = {"authorization": f"Bearer {canary('wrong')}"}
    assert keep(httpx.post(url, json=CHAT, headers=wrong, timeout=15)).status_code == 401
    assert keep(httpx.get(f"{gateway.base_url}/usage", timeout=15)).status_code == 200
    metrics = keep(httpx.get(f"{gateway.base_url}/metrics", timeout=15))
    assert metrics.status_code == 200
    mgmt = httpx.Client(
        base_url=f"{gateway.base_url}/v0/management",
        headers={"authorization": f"Bearer {canaries.management}"},
        timeout=15,
    )
    record = {"type": "claude", "email": "a@example.com", "refresh_token": refresh}
    record["access_token"] = access_token
    with mgmt:
        upload = mgmt.post(
            "/auth-files", params={"name": "claude-a.json"}, content=json.dumps(record)
        )
        assert upload.status_code == 200, upload.text
        for path in (
            "/config",
            "/config.yaml",
            "/api-keys",
            "/openai-compatibility",
            "/auth-files",
            "/usage",
            "/logs",
            "/auths",
            "/request-error-logs",
        ):
            listing = keep(mgmt.get(path))
            assert listing.status_code < 500, path
        download = mgmt.get("/auth-files/download", params={"name": "claude-a.json"})
    # The one answer whose purpose is the secret: never cached anywhere on the way.
    assert download.status_code == 200
    assert refresh in download.text
    assert download.headers["cache-control"] == "no-store"
    gateway.stop()
    logs = gateway.log_text()
    assert "request" in logs.lower()  # request logging really wrote something
    stored = [
        p.read_bytes().decode("utf-8", errors="replace")
        for p in gateway.auth_dir.rglob("*")
        if p.is_file() and p.name != "claude-a.json"
    ]
    every_secret = [*canaries.all, refresh, access_token, wrong["authorization"][7:]]
    for place, text in (
        ("logs", logs),
        ("answers", "\n".join(answers)),
        ("stored", "\n".join(stored)),
    ):
        for secret in every_secret:
            assert secret not in text, f"{secret[:20]} in {place}"
        found = SECRET_SHAPES.findall(text)
        assert found == [], f"{place}: {found[:3]}"
    # The metrics have labels for credentials, but only as fingerprints.
    assert "sk-canary" not in metrics.text


@pytest.mark.invariant(4, 17)
def test_git_history_holds_no_canary_with_encryption_on(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    key = secrets.token_bytes(32)
    token, provider_key = canary("git-rt"), canary("git-key")

    async def write() -> None:
        backend = GitStore(str(remote), local_path=tmp_path / "clone", timeout=10)
        store = EncryptedStore(backend, key)
        await store.start()
        try:
            record = json.dumps({"refresh_token": token}).encode()
            await store.write_auth("codex-a@b.com.json", record)
            await store.write_config(f"api-keys: [{provider_key}]\n".encode())
            await store.write_state("usage", provider_key.encode())
            await store.write_auth("codex-a@b.com.json", record.replace(b'"}', b'2"}'))
            await backend.flush()
        finally:
            await store.close()

    asyncio.run(write())
    git = ["git", "--git-dir", str(remote)]
    batch = [*git, "cat-file", "--batch-all-objects", "--batch"]
    objects = subprocess.run(batch, capture_output=True, check=True).stdout
    log = [*git, "log", "--all", "-p", "--format=%H %an %ae %s %b"]
    history = subprocess.run(log, capture_output=True, check=True).stdout
    assert b"codex-a@b.com.json" in history  # the records are in history, as ciphertext
    for secret in (token, provider_key, key.hex()):
        assert secret.encode() not in objects
        assert secret.encode() not in history


# A12: modes of secret files.


@pytest.mark.invariant(7)
def test_secret_files_are_created_private_whatever_the_umask(
    attack_upstream: FakeUpstream, canaries: Canaries, tmp_path: Path
) -> None:
    previous = os.umask(0)  # the gateway inherits a umask that would make everything 0666/0777
    try:
        auth_dir = tmp_path / "auths"
        config = attack_config(attack_upstream, canaries).replace(
            "{auth_dir}", str(auth_dir / "new")
        )
        gateway = GatewayProcess(config, tmp_path=tmp_path, startup_timeout=40.0).start()
        try:
            mgmt = httpx.Client(
                base_url=f"{gateway.base_url}/v0/management",
                headers={"authorization": f"Bearer {canaries.management}"},
                timeout=15,
            )
            with mgmt:
                record = json.dumps({"type": "claude", "refresh_token": canary("rt")})
                upload = mgmt.post("/auth-files", params={"name": "claude-b.json"}, content=record)
                assert upload.status_code == 200
                assert mgmt.put("/debug", json={"value": False}).status_code == 200
            assert httpx.post(
                f"{gateway.base_url}/v1/chat/completions",
                json=CHAT,
                headers={"authorization": f"Bearer {canaries.client}"},
                timeout=15,
            ).is_success
        finally:
            gateway.stop()
    finally:
        os.umask(previous)
    created = auth_dir / "new"
    logs_dir = gateway.tmp_path / "logs"
    written = [*created.rglob("*"), created, gateway.config_path, *logs_dir.rglob("*"), logs_dir]
    assert (created / "claude-b.json").exists()
    for path in written:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(tmp_path)} is {mode:03o}"


def test_exposed_secret_files_are_reported_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(mode=0o755)
    auth_dir.chmod(0o755)
    loose = auth_dir / "claude-a.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    tight = auth_dir / "claude-b.json"
    tight.write_text("{}")
    tight.chmod(0o600)
    with caplog.at_level("WARNING", logger="aiproxyapi.storage"):
        exposed = warn_if_exposed([auth_dir, loose, tight])
    assert exposed == [auth_dir, loose]
    assert "chmod 600" in caplog.text
    assert "chmod 700" in caplog.text
    assert "SECURITY" in caplog.text


# A13: the shipped example config.


def _example(port: int, auth_dir: Path) -> str:
    text = (REPO / "config.example.yaml").read_text()
    text = re.sub(r"(?m)^port: .*$", f"port: {port}", text)
    return re.sub(r"(?m)^auth-dir: .*$", f'auth-dir: "{auth_dir}"', text)


def _outside_address() -> str | None:
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    return next((a for a in found.stdout.split() if "." in a and not a.startswith("127.")), None)


@pytest.mark.invariant(8)
def test_the_shipped_example_binds_loopback_with_management_off(tmp_path: Path) -> None:
    gateway = GatewayProcess("", tmp_path=tmp_path, startup_timeout=40.0)
    gateway.rewrite_config(_example(gateway.port, tmp_path / "auths"))
    with gateway:
        assert httpx.get(f"{gateway.base_url}/healthz", timeout=10).status_code == 200
        management = httpx.get(f"{gateway.base_url}/v0/management/config", timeout=10)
        assert management.status_code == 404
        outside = _outside_address()
        if outside is not None:
            with (
                pytest.raises(ConnectionRefusedError),
                socket.create_connection((outside, gateway.port), timeout=2),
            ):
                pass


def _uncommented(text: str, marker: str) -> str:
    """The example with the commented block that starts at `marker` switched on."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# {marker}"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("#   "):
        end += 1
    block = [line[2:] for line in lines[start:end]]
    return "\n".join(lines[:start] + block + lines[end:]) + "\n"


@pytest.mark.invariant(8)
@pytest.mark.parametrize(
    ("marker", "named"),
    [
        ("api-keys:", "replace-with-a-long-random-client-key-1"),
        ("remote-management:", "secret-key"),
    ],
)
def test_the_example_placeholders_never_become_working_keys(
    tmp_path: Path, marker: str, named: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_uncommented(_example(free_port(), tmp_path / "auths"), marker))
    result = subprocess.run(
        [sys.executable, "-m", "aiproxyapi", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-500:]
    assert "placeholder" in result.stderr
    assert named in result.stderr
