"""Choosing the backend from the environment: precedence, old spellings, no secret in the log."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.base import Change, Store, StoreError
from storage.crypto import KEY_ENV, EncryptedStore
from storage.file import FileStore
from storage.mirror import MirroredStore
from storage.select import BACKENDS, load_backend, safe_url, store_from_env


class FakeBackend(Store):
    """Records how store_from_env built it; never does any I/O."""

    kind = "fake"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    async def read_config(self) -> bytes | None:
        return None

    async def write_config(self, data: bytes) -> None:
        return None

    async def list_auth(self) -> dict[str, bytes]:
        return {}

    async def read_auth(self, name: str) -> bytes | None:
        return None

    async def write_auth(self, name: str, data: bytes) -> None:
        return None

    async def delete_auth(self, name: str) -> None:
        return None

    async def read_state(self, key: str) -> bytes | None:
        return None

    async def write_state(self, key: str, data: bytes) -> None:
        return None

    async def changes(self) -> AsyncIterator[Change]:
        return
        yield


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every remote backend replaced by FakeBackend, so only the env mapping is tested."""
    for name in ("postgres", "s3", "git"):
        monkeypatch.setitem(BACKENDS, name, f"{__name__}:FakeBackend")


def choose(tmp_path: Path, env: dict[str, str]) -> tuple[Store, str]:
    return store_from_env(env, auth_dir=tmp_path / "auths", config_path=tmp_path / "config.yaml")


def inner(store: Store) -> FakeBackend:
    assert isinstance(store, MirroredStore)
    backend = store.backend
    if isinstance(backend, EncryptedStore):
        backend = backend.inner
    assert isinstance(backend, FakeBackend)
    return backend


PG = {"PGSTORE_DSN": "postgresql://app:hunter2@db.internal:5433/gw"}
S3 = {
    "OBJECTSTORE_ENDPOINT": "https://minio.internal:9000",
    "OBJECTSTORE_BUCKET": "gw",
    "OBJECTSTORE_ACCESS_KEY": "AKIAEXAMPLE",
    "OBJECTSTORE_SECRET_KEY": "s3cr3t",
}
GIT = {
    "GITSTORE_GIT_URL": "https://bot:ghp_token@git.internal/ops/gw.git",
    "GITSTORE_GIT_TOKEN": "ghp_t",
}
SECRETS = ("hunter2", "s3cr3t", "ghp_token", "ghp_t", "AKIAEXAMPLE")


def test_no_variable_means_the_file_backend(tmp_path: Path) -> None:
    store, description = choose(tmp_path, {})
    assert isinstance(store, FileStore)
    assert store.auth_dir == tmp_path / "auths"
    assert description.startswith("file (auth dir ")


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({**PG, **S3, **GIT}, "postgres"),
        ({**S3, **GIT}, "s3"),
        (GIT, "git"),
    ],
)
def test_precedence_postgres_then_s3_then_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    store, description = choose(tmp_path, env)
    assert description.startswith("fake (")
    assert isinstance(store, MirroredStore)
    expected_root = {"postgres": "pgstore", "s3": "objectstore", "git": "gitstore"}[kind]
    assert store.auth_dir == tmp_path / expected_root / "auths"
    assert not any(secret in description for secret in SECRETS)


@pytest.mark.usefixtures("fakes")
def test_postgres_settings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = {**PG, "PGSTORE_SCHEMA": "gateway", "PGSTORE_LOCAL_PATH": str(tmp_path / "spool")}
    with caplog.at_level(logging.WARNING, logger="aiproxyapi.storage"):
        store, description = choose(tmp_path, env)
    assert inner(store).args == (PG["PGSTORE_DSN"], "gateway")
    assert "host db.internal:5433, database gw, schema gateway" in description
    assert "not encrypted" in description
    assert str(tmp_path / "spool" / "pgstore") in description
    assert "plain text" in caplog.text
    assert "hunter2" not in description + caplog.text


@pytest.mark.usefixtures("fakes")
def test_the_older_object_store_and_git_spellings(tmp_path: Path) -> None:
    old_s3 = {
        "objstore_endpoint": "http://127.0.0.1:9000",
        "OBJSTORE_BUCKET": "b",
        "OBJSTORE_ACCESS_KEY": "ak",
        "OBJSTORE_SECRET_KEY": "sk",
        "OBJSTORE_REGION": "eu-west-1",
        "OBJSTORE_LOCAL_PATH": str(tmp_path / "o"),
    }
    store, description = choose(tmp_path, old_s3)
    backend = inner(store)
    assert backend.args == ("http://127.0.0.1:9000", "b")
    assert backend.kwargs == {"access_key": "ak", "secret_key": "sk", "region": "eu-west-1"}
    assert "endpoint http://127.0.0.1:9000, bucket b" in description

    old_git = {
        "GITSTORE_REMOTE_URL": "https://git.internal/gw.git",
        "GITSTORE_USER": "bot",
        "GITSTORE_PASSWORD": "pw",
        "GITSTORE_GIT_BRANCH": "config",
        "GITSTORE_LOCAL_PATH": str(tmp_path / "g"),
    }
    store, description = choose(tmp_path, old_git)
    backend = inner(store)
    assert backend.args == ("https://git.internal/gw.git",)
    assert backend.kwargs == {
        "username": "bot",
        "token": "pw",
        "branch": "config",
        "local_path": tmp_path / "g" / "gitstore" / "repo",
    }
    assert description.startswith("fake (https://git.internal/gw.git, branch config)")


@pytest.mark.usefixtures("fakes")
def test_a_store_key_turns_encryption_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = {**PG, KEY_ENV: "ab" * 32, "PGSTORE_LOCAL_PATH": str(tmp_path)}
    with caplog.at_level(logging.WARNING, logger="aiproxyapi.storage"):
        store, description = choose(tmp_path, env)
    assert isinstance(store, MirroredStore)
    assert isinstance(store.backend, EncryptedStore)
    assert ", encrypted," in description
    assert "plain text" not in caplog.text


def test_a_bucket_is_required(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="OBJECTSTORE_BUCKET"):
        choose(tmp_path, {"OBJECTSTORE_ENDPOINT": "http://127.0.0.1:9000"})


def test_a_bad_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="AIPROXYAPI_STORE_TIMEOUT"):
        choose(tmp_path, {**PG, "AIPROXYAPI_STORE_TIMEOUT": "soon"})


def test_the_registry_loads_lazily_and_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_backend("file") is FileStore
    with pytest.raises(StoreError, match="unknown storage backend 'nope'"):
        load_backend("nope")
    monkeypatch.setitem(BACKENDS, "gone", "storage.not_written_yet:Store")
    with pytest.raises(StoreError, match="the gone storage backend is not available"):
        load_backend("gone")


@pytest.mark.invariant(4)
def test_safe_url_drops_credentials_and_queries() -> None:
    assert safe_url("https://u:p@h.example:8443/x.git?token=t") == "https://h.example:8443/x.git"


def test_importing_storage_pulls_in_no_backend_library() -> None:
    code = (
        "import sys, storage; "
        "print(sorted(m for m in ('asyncpg', 'boto3', 'botocore', 'git') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_store_secrets_names_every_secret_the_variables_carry() -> None:
    from storage.select import store_secrets

    env = {**PG, **S3, **GIT, KEY_ENV: "k" * 64, "AIPROXYAPI_STORE_OLD_KEYS": "o1, o2"}
    found = set(store_secrets(env))
    assert {"hunter2", "s3cr3t", "ghp_token", "ghp_t", "k" * 64, "o1", "o2"} <= found
    keyword = store_secrets({"pgstore_dsn": "host=db user=app password='pw-9' dbname=gw"})
    assert keyword == ["pw-9"]


@pytest.mark.usefixtures("fakes")
def test_poll_interval_reaches_git_and_s3(tmp_path: Path) -> None:
    env = {**S3, "AIPROXYAPI_STORE_POLL_INTERVAL": "0.5"}
    assert inner(choose(tmp_path, env)[0]).kwargs["poll_interval"] == 0.5
    env = {**GIT, "aiproxyapi_store_poll_interval": "2"}
    assert inner(choose(tmp_path, env)[0]).kwargs["poll_interval"] == 2.0
    with pytest.raises(StoreError, match="POLL_INTERVAL must be seconds"):
        choose(tmp_path, {**GIT, "AIPROXYAPI_STORE_POLL_INTERVAL": "soon"})
