"""The guard's parts on their own: bans over time, caller address, masks, record names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.connection import ASGIConnection

from aiproxyapi.api import create_app
from aiproxyapi.config import ConfigError, load_config, parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import ManagementError
from aiproxyapi.management.auth_names import checked_auth_name
from aiproxyapi.management.bans import BAN_SECONDS, MAX_FAILURES, FailureBans
from aiproxyapi.management.guard import caller_address, presented_key
from aiproxyapi.management.masking import mask, mask_document, unmask, unmask_document
from aiproxyapi.management.secret import KeyVerifier, hash_secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_ban_for_thirty_minutes_then_the_count_starts_over() -> None:
    clock = Clock()
    bans = FailureBans(clock)
    for _ in range(MAX_FAILURES - 1):
        bans.failed("203.0.113.5")
    assert bans.remaining("203.0.113.5") == 0
    bans.failed("203.0.113.5")
    assert bans.remaining("203.0.113.5") == BAN_SECONDS
    assert bans.remaining("203.0.113.6") == 0
    clock.now += BAN_SECONDS - 1
    assert bans.remaining("203.0.113.5") == 1
    clock.now += 1
    assert bans.remaining("203.0.113.5") == 0
    bans.failed("203.0.113.5")
    assert bans.remaining("203.0.113.5") == 0  # one failure after the ban is one, not six


def test_success_clears_the_count() -> None:
    bans = FailureBans(Clock())
    for _ in range(MAX_FAILURES - 1):
        bans.failed("::1")
    bans.succeeded("::1")
    bans.failed("::1")
    assert bans.remaining("::1") == 0


def _connection(peer: str, forwarded: str) -> ASGIConnection[Any, Any, Any, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "client": (peer, 50000), "headers": headers, "path": "/"}
    return ASGIConnection(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "caller"),
    [
        ("192.0.2.1", "127.0.0.1", (), "192.0.2.1"),
        ("127.0.0.1", "203.0.113.9", (), "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, 10.0.0.2", ("127.0.0.0/8", "10.0.0.0/8"), "203.0.113.9"),
        ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
        ("192.0.2.1", "127.0.0.1", ("127.0.0.1",), "192.0.2.1"),
    ],
)
def test_caller_address(peer: str, forwarded: str, trusted: tuple[str, ...], caller: str) -> None:
    assert caller_address(_connection(peer, forwarded), trusted) == caller


CONFIG = """\
host: 127.0.0.1
auth-dir: "{auth_dir}"
api-keys: [sk-client-unit-0001]
remote-management:
  secret-key: unit-secret-0001
  allow-remote: {allow}
"""


# Building the whole app meets the deprecation warning of a proxy route's path parameter.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.invariant(8)
async def test_a_non_loopback_peer_needs_allow_remote(tmp_path: Path, allow: bool) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(auth_dir=tmp_path / "auths", allow=str(allow).lower()))
    gateway = Gateway(load_config(path), path)
    app = create_app(gateway)
    headers = {"X-Management-Key": "unit-secret-0001"}
    for peer, local in (("192.0.2.7", False), ("127.0.0.1", True), ("::1", True)):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8317"
        ) as client:
            response = await client.get("/v0/management/debug", headers=headers)
        if local or allow:
            assert response.status_code == 200, peer
            assert response.json() == {"debug": False}
        else:
            assert response.status_code == 403, peer
            assert response.json() == {"error": "remote management disabled"}
    await gateway.clients.aclose()


def _with_headers(headers: dict[str, str]) -> ASGIConnection[Any, Any, Any, Any]:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {"type": "http", "client": ("127.0.0.1", 1), "headers": raw, "path": "/"}
    return ASGIConnection(scope)  # type: ignore[arg-type]


def test_presented_key_carriers() -> None:
    assert presented_key(_with_headers({"X-Management-Key": " k1 "})) == "k1"
    assert presented_key(_with_headers({"Authorization": "Bearer k2"})) == "k2"
    assert presented_key(_with_headers({"Authorization": "Basic k3"})) == ""
    assert presented_key(_with_headers({})) == ""


def test_masks_tell_keys_apart_and_round_trip() -> None:
    keys = ["sk-aaaa-1111-2222-zzzz", "sk-bbbb-1111-2222-yyyy", "short-k1", "k"]
    masks = [mask(key) for key in keys]
    assert len(set(masks)) == len(masks)
    for key, masked in zip(keys, masks, strict=True):
        assert key not in masked
        assert unmask(masked, keys) == key
    assert unmask("sk-new-key", keys) == "sk-new-key"
    doc = {"api-key": keys[0], "headers": {"X-A": keys[1]}, "proxy-url": "socks5://u:pw@h:1"}
    masked_doc = mask_document(doc)
    assert masked_doc["proxy-url"] == "socks5://u:...@h:1"
    assert unmask_document(masked_doc, [keys[0], keys[1], doc["proxy-url"]]) == doc


@pytest.mark.parametrize(
    "name",
    [
        "../a.json",
        "a/b.json",
        "a\\b.json",
        "/abs.json",
        ".a.json",
        "%2e%2e.json",
        "a.txt",
        "",
        " a.json",
        "~a.json",
        "a\x00.json",
    ],
)
@pytest.mark.invariant(10)
def test_record_names_outside_the_allow_list(name: str) -> None:
    with pytest.raises(ManagementError) as raised:
        checked_auth_name(name)
    assert raised.value.status == 400


@pytest.mark.parametrize("name", ["claude-a@b.com.json", "codex-x_y+z-plus.json", "v.json"])
def test_record_names_inside_the_allow_list(name: str) -> None:
    assert checked_auth_name(name) == name


async def test_a_long_wrong_key_is_a_plain_refusal() -> None:
    hashed = await hash_secret("the-real-secret-0001")
    config = parse_config(f'remote-management:\n  secret-key: "{hashed}"\n').config
    verifier = KeyVerifier()
    assert verifier.enabled(config)
    assert not await verifier.verify("x" * 100, config)
    assert not await verifier.verify("the-real-secret-0002", config)
    assert await verifier.verify("the-real-secret-0001", config)
    assert await verifier.verify("the-real-secret-0001", config)  # proven once, then cheap
    assert not await verifier.verify("the-real-secret-0002", config)


def test_a_plaintext_secret_longer_than_bcrypt_allows_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"remote-management:\n  secret-key: {'k' * 80}\n")
    assert raised.value.path == "remote-management.secret-key"
    assert "k" * 80 not in str(raised.value)
