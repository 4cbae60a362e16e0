"""A7: upstream URLs written through management never reach private or local addresses."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aiproxyapi.egress import (
    DestinationRefused,
    EgressPolicy,
    check_url,
    is_private_destination,
    literal_address,
)
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from tests.attacks._listener import CanaryListener
from tests.attacks.conftest import Canaries
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

NO_POLICY = EgressPolicy()


@pytest.fixture
def canary_listener() -> Iterator[CanaryListener]:
    listener = CanaryListener()
    yield listener
    listener.close()


def private_urls(port: int) -> list[str]:
    """Every spelling of a private destination the guard must refuse (reliability.md A7)."""
    return [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://2852039166/",
        "http://0x7f000001/",
        f"http://127.1:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://[::1]:{port}/",
        f"http://127.0.0.1:{port}/",
        f"http://localhost:{port}/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://0177.0.0.1/",
        "http://[2002:7f00:1::]/",
    ]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe"),
        ("example.com", None),
        ("cafe", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == address


@pytest.mark.invariant(1)
@pytest.mark.parametrize("url", private_urls(8317))
async def test_private_destinations_are_refused_at_write_time(url: str) -> None:
    with pytest.raises(DestinationRefused, match="allow-private-upstreams"):
        await check_url(url, NO_POLICY)
    with pytest.raises(DestinationRefused):
        await check_url(url.replace("http://", "socks5://"), NO_POLICY, proxy=True)


@pytest.mark.invariant(1, 16)
@pytest.mark.parametrize(
    ("url", "proxy"),
    [
        ("file:///etc/passwd", False),
        ("gopher://203.0.113.1:70/", False),
        ("socks5://203.0.113.1:1080", False),
        ("ftp://203.0.113.1/", True),
        ("http:///no-host", False),
    ],
)
async def test_only_http_schemes_and_socks_proxies_are_accepted(url: str, proxy: bool) -> None:
    with pytest.raises(DestinationRefused, match="must use one of"):
        await check_url(url, NO_POLICY, proxy=proxy)


async def test_public_addresses_and_listed_private_ones_pass() -> None:
    await check_url("https://8.8.8.8/v1", NO_POLICY)  # a literal: no lookup, no connection
    await check_url("socks5h://1.1.1.1:1080", NO_POLICY, proxy=True)
    await check_url("direct", NO_POLICY, proxy=True)
    listed = EgressPolicy.from_entries(["127.0.0.1", "10.0.0.0/8", "llm.internal"])
    await check_url("http://127.0.0.1:8000/v1", listed)
    await check_url("http://10.9.8.7/", listed)
    assert listed.permits("llm.internal", literal_address("192.168.1.5"))  # type: ignore[arg-type]
    with pytest.raises(DestinationRefused):
        await check_url("http://169.254.169.254/", listed)


def test_every_special_purpose_range_counts_as_private() -> None:
    for text in ("0.0.0.0", "::", "127.0.0.53", "169.254.0.1", "fe80::1", "fc00::1", "224.0.0.1"):
        assert is_private_destination(literal_address(text)), text  # type: ignore[arg-type]
    assert not is_private_destination(literal_address("1.1.1.1"))  # type: ignore[arg-type]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names the event loop resolves to chosen addresses (nothing leaves this process)."""
    names: dict[str, str] = {}
    real = asyncio.BaseEventLoop.getaddrinfo

    async def getaddrinfo(self: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in names:
            address = names[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every connection attempt the loop is asked for; each fails before any socket opens."""
    seen: list[tuple[Any, ...]] = []

    async def create_connection(self: Any, factory: Any, host: Any, port: Any, **kw: Any) -> Any:
        seen.append((host, port))
        raise OSError("no connections in this test")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", create_connection)
    return seen


@pytest.mark.invariant(1)
async def test_a_name_resolving_to_a_private_address_is_refused_at_write_time(
    resolver: dict[str, str],
) -> None:
    resolver["rebind.test"] = "127.0.0.1"
    resolver["metadata.test"] = "169.254.169.254"
    for name in ("rebind.test", "metadata.test"):
        with pytest.raises(DestinationRefused, match=name):
            await check_url(f"http://{name}/v1", NO_POLICY)


@pytest.mark.invariant(1)
async def test_connect_time_refuses_a_rebound_name_before_any_socket_opens(
    resolver: dict[str, str], connects: list[tuple[Any, ...]]
) -> None:
    resolver["metadata.test"] = "169.254.169.254"
    resolver["public.test"] = "9.9.9.9"
    clients = HttpClients()
    client = clients.get("", "", UpstreamTimeouts(connect=2.0, idle=2.0))
    try:
        with pytest.raises(httpx.ConnectError, match="allow-private-upstreams"):
            await client.get("http://metadata.test/latest/meta-data/")
        assert connects == []
        # A public answer is connected to as checked: the address, never the name again.
        with pytest.raises(httpx.ConnectError):
            await client.get("http://public.test:8080/")
        assert connects == [("9.9.9.9", 8080)]
        # Allowed by the operator: the connection is attempted.
        clients.egress = EgressPolicy.from_entries(["metadata.test"])
        with pytest.raises(httpx.ConnectError, match="no connections"):
            await client.get("http://metadata.test/")
        assert connects[-1] == ("169.254.169.254", 80)
    finally:
        await clients.aclose()


# Over HTTP, through the management API of a gateway whose file lists no private upstream.


def _mgmt(gateway: GatewayProcess, canaries: Canaries) -> httpx.Client:
    return httpx.Client(
        base_url=f"{gateway.base_url}/v0/management",
        headers={"authorization": f"Bearer {canaries.management}"},
        timeout=15,
        trust_env=False,
    )


@pytest.mark.invariant(1)
def test_management_writes_of_private_urls_are_refused_and_nothing_connects(
    attack_gateway: GatewayProcess,
    attack_upstream: FakeUpstream,
    canaries: Canaries,
    canary_listener: CanaryListener,
) -> None:
    before = attack_gateway.config_path.read_text()
    with _mgmt(attack_gateway, canaries) as client:
        for url in private_urls(canary_listener.port):
            entry = {
                "name": "evil",
                "base-url": url,
                "api-key-entries": [{"api-key": "sk-evil-0001"}],
                "models": [{"name": "m1"}],
            }
            listing = client.get("/openai-compatibility").json()["openai-compatibility"]
            refused = client.put("/openai-compatibility", json=[*listing, entry])
            assert refused.status_code == 400, (url, refused.text)
            assert refused.json()["error"] == "destination_refused"
            assert "openai-compatibility[1].base-url" in refused.json()["message"]
            proxy = client.put("/proxy-url", json={"value": url.replace("http", "socks5", 1)})
            assert proxy.status_code == 400, url
            claude = client.put("/claude-api-key", json=[{"api-key": "sk-ant-x1", "base-url": url}])
            assert claude.status_code == 400, url
            record = {"type": "claude", "access_token": "t", "base_url": url}
            upload = client.post(
                "/auth-files", params={"name": "evil.json"}, content=json.dumps(record)
            )
            assert upload.status_code == 400, url
        # The operator's list cannot be widened from here.
        text = before + '\nallow-private-upstreams: ["0.0.0.0/0"]\n'
        widened = client.put("/config.yaml", content=text)
        assert widened.status_code == 400
        assert "config file on disk" in widened.json()["message"]
        # Saving the list as it is keeps the operator's own loopback upstream.
        listing = client.get("/openai-compatibility").json()["openai-compatibility"]
        assert client.put("/openai-compatibility", json=listing).status_code == 200
    assert attack_gateway.config_path.read_text().count("allow-private-upstreams") == 0
    assert canary_listener.connections == 0
    # The operator's upstream still serves.
    chat = httpx.post(
        f"{attack_gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {canaries.client}"},
        timeout=15,
    )
    assert chat.status_code == 200
    assert attack_upstream.requests


@pytest.mark.invariant(1)
def test_an_upstream_redirect_is_never_followed(
    attack_gateway: GatewayProcess,
    attack_upstream: FakeUpstream,
    canaries: Canaries,
    canary_listener: CanaryListener,
) -> None:
    target = f"http://127.0.0.1:{canary_listener.port}/v1/chat/completions"
    for key in canaries.upstream:
        attack_upstream.script(Reply.raw(b"", status=302, headers={"location": target}), key=key)
    answer = httpx.post(
        f"{attack_gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {canaries.client}"},
        timeout=15,
    )
    attack_upstream.clear(scripts=True)
    assert answer.status_code != 200
    assert canary_listener.connections == 0
    assert str(canary_listener.port) not in answer.text
