"""A3-A6: management brute force, bcrypt as a lever, remote callers, DNS rebinding and CSRF."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest

from aiproxyapi.config import load_config
from aiproxyapi.management import secret as secret_module
from aiproxyapi.management.secret import KeyVerifier
from tests.attacks._netns import HOST_ADDRESS, NetnsUnavailable, PeerNamespace
from tests.attacks._reverse_proxy import ReverseProxy
from tests.attacks.conftest import Canaries, attack_config, cheap_hash
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

ALLOWED_HOST = "gw.example.test"


def _mgmt(base_url: str, key: str | None, **headers: str) -> httpx.Client:
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.Client(
        base_url=f"{base_url}/v0/management", headers=headers, timeout=15, trust_env=False
    )


@pytest.fixture(scope="module")
def proxied_gateway(
    attack_upstream: FakeUpstream, canaries: Canaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Behind a trusted proxy on loopback, remote management on, one extra allowed host."""
    management = {
        "secret-key": cheap_hash(canaries.management),
        "allow-remote": True,
        "trusted-proxies": ["127.0.0.1"],
        "allowed-hosts": [ALLOWED_HOST],
    }
    config = attack_config(attack_upstream, canaries, **{"remote-management": management})
    home: Path = tmp_path_factory.mktemp("proxied")
    with GatewayProcess(config, tmp_path=home, startup_timeout=40.0) as gateway:
        yield gateway


@pytest.mark.invariant(8, 4)
def test_brute_force_bans_the_real_caller_and_forged_hops_do_not_help(
    proxied_gateway: GatewayProcess, canaries: Canaries
) -> None:
    attacker, neighbour = "203.0.113.9", "203.0.113.10"
    wrong = [f"sk-canary-guess-{uuid.uuid4().hex}" for _ in range(8)]
    with _mgmt(proxied_gateway.base_url, None) as client:
        for attempt, guess in enumerate(wrong[:5]):
            # The attacker forges hops to the left of what the trusted proxy appended.
            forged = f"127.0.0.1, 198.51.100.{attempt}, {attacker}"
            answer = client.get(
                "/debug", headers={"authorization": f"Bearer {guess}", "x-forwarded-for": forged}
            )
            assert answer.status_code == 401
        right = {"authorization": f"Bearer {canaries.management}"}
        for forged in (attacker, f"127.0.0.1, {attacker}", f"{neighbour}, {attacker}"):
            banned = client.get("/debug", headers={**right, "x-forwarded-for": forged})
            assert banned.status_code == 403, forged
            assert "banned" in banned.json()["error"]
            assert int(banned.headers["retry-after"]) > 60
        # The right secret from another address still works.
        other = client.get("/debug", headers={**right, "x-forwarded-for": neighbour})
        assert other.status_code == 200
    logs = proxied_gateway.log_text()
    stderr = proxied_gateway.stderr_path.read_text()
    assert stderr.count(f"management key refused from {attacker}") == 5
    assert "address now banned" in logs
    for guess in wrong:
        assert guess not in logs
    assert canaries.management not in logs


@pytest.mark.invariant(8)
def test_a_secret_longer_than_bcrypt_takes_is_a_plain_401(
    attack_gateway: GatewayProcess, canaries: Canaries
) -> None:
    for length in (73, 100, 4000):
        with _mgmt(attack_gateway.base_url, "k" * length) as client:
            answer = client.get("/debug")
        assert answer.status_code == 401, length
        assert answer.json() == {"error": "invalid management key"}
    # Reset the failure count for the module's other tests.
    with _mgmt(attack_gateway.base_url, canaries.management) as client:
        assert client.get("/debug").status_code == 200


async def test_bcrypt_runs_off_the_event_loop_two_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.yaml"
    hashed = bcrypt.hashpw(b"right-secret-0001", bcrypt.gensalt(rounds=4)).decode()
    config_path.write_text(f'host: 127.0.0.1\nremote-management:\n  secret-key: "{hashed}"\n')
    config = load_config(config_path).config
    loop_thread = threading.get_ident()
    running, peak, threads = 0, 0, set()
    lock = threading.Lock()

    def slow_checkpw(presented: bytes, stored: bytes) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(secret_module.bcrypt, "checkpw", slow_checkpw)
    verifier = KeyVerifier()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    beat = asyncio.ensure_future(ticker())
    results = await asyncio.gather(*(verifier.verify(f"wrong-{n}", config) for n in range(10)))
    beat.cancel()
    assert results == [False] * 10
    assert peak == 2  # a small semaphore bounds the CPU a wrong-key flood can take
    assert loop_thread not in threads
    assert ticks > 10  # the loop kept running while ten checks waited their turn


# A5: callers that are not this machine.


def test_a_peer_in_another_network_namespace_is_refused(
    attack_upstream: FakeUpstream, canaries: Canaries, tmp_path: Path
) -> None:
    try:
        namespace = PeerNamespace().__enter__()
    except NetnsUnavailable as exc:
        pytest.skip(f"cannot make a network namespace here: {exc}")
    try:
        config = attack_config(attack_upstream, canaries).replace(
            "host: 127.0.0.1", "host: 0.0.0.0"
        )
        with GatewayProcess(config, tmp_path=tmp_path, startup_timeout=40.0) as gateway:
            probe = (
                "import sys, httpx\n"
                "base, mgmt, client = sys.argv[1:4]\n"
                "for path, key in (('/v0/management/debug', mgmt), ('/v1/models', client),"
                " ('/usage', client)):\n"
                "    r = httpx.get(base + path, headers={'authorization': 'Bearer ' + key},"
                " timeout=10, trust_env=False)\n"
                "    print(r.status_code, r.text.replace(chr(10), ' '))\n"
            )
            base = f"http://{HOST_ADDRESS}:{gateway.port}"
            lines = namespace.python(probe, [base, canaries.management, canaries.client])
            logs = gateway.log_text()
    finally:
        namespace.__exit__()
    management, models, usage = lines.splitlines()
    assert management == '403 {"error":"remote management disabled"}'
    assert models.startswith("200 ")  # the peer really reaches the gateway
    assert usage.startswith("403 ")
    assert canaries.management not in logs


@pytest.mark.invariant(8, 9)
def test_a_same_host_reverse_proxy_does_not_make_callers_local(
    attack_gateway: GatewayProcess, canaries: Canaries
) -> None:
    proxy = ReverseProxy(attack_gateway.base_url)
    try:
        headers = {"authorization": f"Bearer {canaries.management}"}
        relayed = httpx.get(f"{proxy.url}/v0/management/debug", headers=headers, timeout=15)
        usage = httpx.get(f"{proxy.url}/usage", timeout=15)
    finally:
        proxy.close()
    assert relayed.status_code == 403
    assert relayed.json() == {"error": "remote management disabled"}
    assert usage.status_code == 403
    with _mgmt(attack_gateway.base_url, canaries.management) as client:
        assert client.get("/debug").status_code == 200  # directly from this machine: fine


# A6: DNS rebinding and cross-site requests.


def _request(gateway: GatewayProcess, method: str, path: str, **headers: str) -> httpx.Response:
    return httpx.request(
        method, f"{gateway.base_url}{path}", headers=headers, timeout=15, trust_env=False
    )


@pytest.mark.invariant(8, 9)
def test_a_foreign_host_name_is_refused_on_management_and_the_panel(
    proxied_gateway: GatewayProcess, canaries: Canaries
) -> None:
    key = f"Bearer {canaries.management}"
    for host in ("attacker.example", "attacker.example:8317", "127.0.0.1.nip.io"):
        answer = _request(
            proxied_gateway, "GET", "/v0/management/debug", host=host, authorization=key
        )
        assert answer.status_code == 403, host
        assert answer.json() == {"error": "host not allowed"}
        assert _request(proxied_gateway, "GET", "/management.html", host=host).status_code == 403
    port = proxied_gateway.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", ALLOWED_HOST):
        answer = _request(
            proxied_gateway, "GET", "/v0/management/debug", host=host, authorization=key
        )
        assert answer.status_code == 200, host
        assert _request(proxied_gateway, "GET", "/management.html", host=host).status_code == 200


@pytest.mark.invariant(8)
def test_cross_site_state_changes_are_refused(
    proxied_gateway: GatewayProcess, canaries: Canaries
) -> None:
    key = f"Bearer {canaries.management}"
    here = f"127.0.0.1:{proxied_gateway.port}"

    def put_debug(**headers: str) -> httpx.Response:
        return httpx.put(
            f"{proxied_gateway.base_url}/v0/management/debug",
            json={"value": True},
            headers={"authorization": key, **headers},
            timeout=15,
            trust_env=False,
        )

    for origin in ("https://evil.example", "null", f"http://evil.example:{proxied_gateway.port}"):
        refused = put_debug(origin=origin)
        assert refused.status_code == 403, origin
        assert refused.json() == {"error": "cross-origin request refused"}
    assert put_debug(**{"sec-fetch-site": "cross-site"}).status_code == 403
    # Reads stay possible (the key still guards them), and the panel's own origin may write.
    assert (
        _request(
            proxied_gateway,
            "GET",
            "/v0/management/debug",
            origin="https://evil.example",
            authorization=key,
        ).status_code
        == 200
    )
    assert put_debug(origin=f"http://{here}", **{"sec-fetch-site": "same-origin"}).is_success
    assert put_debug(origin=f"https://{ALLOWED_HOST}", host=ALLOWED_HOST).is_success
    assert put_debug().is_success  # a tool without a browser sends no Origin
    assert "debug: true" in proxied_gateway.config_path.read_text()


def test_no_cors_grant_for_unknown_origins(
    proxied_gateway: GatewayProcess, attack_gateway: GatewayProcess, canaries: Canaries
) -> None:
    preflight = {
        "origin": "https://evil.example",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "authorization",
    }
    answers: list[httpx.Response] = []
    for gateway in (proxied_gateway, attack_gateway):
        for path in ("/v0/management/config", "/v1/chat/completions", "/management.html"):
            answers.append(_request(gateway, "OPTIONS", path, **preflight))
            answers.append(
                _request(
                    gateway,
                    "GET",
                    path,
                    origin="https://evil.example",
                    authorization=f"Bearer {canaries.management}",
                )
            )
    for answer in answers:
        lowered = {name.lower() for name in answer.headers}
        assert not any(name.startswith("access-control-allow") for name in lowered), answer.headers
        assert "set-cookie" not in lowered


def test_the_panel_cannot_be_framed(attack_gateway: GatewayProcess) -> None:
    page = _request(attack_gateway, "GET", "/management.html")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.invariant(8)
def test_an_open_gateway_refuses_rebound_host_names(
    attack_upstream: FakeUpstream, tmp_path: Path
) -> None:
    from tests.support.configs import gateway_config, openai_entry

    config = gateway_config(
        openai_entry("up", attack_upstream.base_url, ["sk-up-open"]), api_keys=[]
    )
    body: dict[str, Any] = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
    with GatewayProcess(config, tmp_path=tmp_path, startup_timeout=40.0) as gateway:
        url = f"{gateway.base_url}/v1/chat/completions"
        rebound = httpx.post(url, json=body, headers={"host": "attacker.example"}, timeout=15)
        direct = httpx.post(url, json=body, timeout=15)
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "host_not_allowed"
    assert direct.status_code == 200
