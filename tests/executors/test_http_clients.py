"""Upstream HTTP clients: one per egress proxy, redirects never followed, env proxies opt-in."""

from __future__ import annotations

import httpx
import pytest

from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts

TIMEOUTS = UpstreamTimeouts(connect=3.0, idle=30.0)


async def test_one_client_per_effective_proxy() -> None:
    clients = HttpClients()
    try:
        direct = clients.get("", "", TIMEOUTS)
        assert clients.get("", "", TIMEOUTS) is direct
        socks = clients.get("socks5://127.0.0.1:1080", "", TIMEOUTS)
        assert socks is not direct
        # A credential's own proxy wins over the global one; "direct" bypasses both.
        assert clients.get("socks5://127.0.0.1:1080", "http://127.0.0.1:3128", TIMEOUTS) is socks
        via_global = clients.get("", "http://127.0.0.1:3128", TIMEOUTS)
        assert via_global is not direct
        assert clients.get("direct", "http://127.0.0.1:3128", TIMEOUTS) is not via_global
    finally:
        await clients.aclose()


@pytest.mark.parametrize(
    "proxy", ["", "direct", "socks5://127.0.0.1:1080", "http://127.0.0.1:3128"]
)
@pytest.mark.invariant(1)
async def test_clients_never_follow_redirects_and_use_idle_timeouts(proxy: str) -> None:
    clients = HttpClients()
    try:
        client = clients.get(proxy, "", TIMEOUTS)
        assert client.follow_redirects is False
        assert client.timeout == httpx.Timeout(connect=3.0, read=30.0, write=30.0, pool=30.0)
    finally:
        await clients.aclose()


@pytest.mark.parametrize("proxy", ["", "socks5://127.0.0.1:1080"])
async def test_clients_keep_no_upstream_cookies(proxy: str) -> None:
    clients = HttpClients()
    try:
        client = clients.get(proxy, "", TIMEOUTS)
        request = client.build_request("POST", "https://api.example.com/v1/chat/completions")
        answer = httpx.Response(
            200, headers={"set-cookie": "session=account-a; Path=/"}, request=request
        )
        client.cookies.extract_cookies(answer)
        assert len(client.cookies.jar) == 0
        following = client.build_request("POST", "https://api.example.com/v1/chat/completions")
        assert "cookie" not in following.headers
    finally:
        await clients.aclose()
