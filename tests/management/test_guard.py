"""The management guard over real HTTP: secret, key carriers, bans, locality, write-back."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx
import pytest

from tests.management.support import SECRET, mgmt, mgmt_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

ROUTES = ["/config", "/config.yaml", "/debug", "/api-keys", "/auth-files", "/usage", "/logs"]


@pytest.mark.invariant(8)
def test_without_a_secret_every_route_is_404(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url, secret=None))
    with mgmt(gateway) as client:
        for route in ROUTES:
            assert client.get(route).status_code == 404, route
        assert client.put("/debug", json={"value": True}).status_code == 404
        assert client.post("/reset-quota", json={"auth_index": "x"}).status_code == 404
    assert "debug: true" not in gateway.config_path.read_text()


@pytest.mark.invariant(8)
def test_missing_and_wrong_keys_are_refused(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway, key=None) as client:
        missing = client.get("/config")
        assert missing.status_code == 401
        assert missing.json() == {"error": "missing management key"}
        wrong = client.get("/config", headers={"Authorization": "Bearer not-the-key"})
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "invalid management key"}
        assert client.get("/config", headers={"Authorization": SECRET}).status_code == 401
        good = client.get("/config", headers={"X-Management-Key": SECRET})
        assert good.status_code == 200
        assert client.get("/config", headers={"Authorization": f"Bearer {SECRET}"}).is_success
        # A client key is no management key.
        bearer_client = {"Authorization": "Bearer sk-client-test-5b1d"}
        assert client.get("/config", headers=bearer_client).status_code == 401


def test_management_answers_carry_the_cpa_headers(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway) as client:
        for response in (
            client.get("/debug"),
            client.get("/debug", headers={"Authorization": "x"}),
        ):
            assert response.headers["x-cpa-version"]
            assert "x-cpa-commit" in response.headers
            assert "x-cpa-build-date" in response.headers
            assert response.headers["cache-control"] == "no-store"


def test_five_failures_ban_the_address_and_forged_forwarding_does_not_help(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    # Remote calls allowed, so relayed-looking calls reach the key check (without allow-remote
    # a loopback peer with forwarding headers is refused before it, as a same-host proxy).
    config = mgmt_config(fake_upstream.base_url, remote_management={"allow-remote": True})
    gateway = start_gateway(config)
    with mgmt(gateway, key="wrong-key") as client:
        for attempt in range(5):
            forged = {"X-Forwarded-For": f"203.0.113.{attempt}", "X-Real-IP": "198.51.100.7"}
            assert client.get("/debug", headers=forged).status_code == 401
        banned = client.get("/debug", headers={"Authorization": f"Bearer {SECRET}"})
        assert banned.status_code == 403
        assert "Try again in 29m" in banned.json()["error"] or "30m" in banned.json()["error"]
        assert int(banned.headers["retry-after"]) > 1700
        forged = client.get(
            "/debug",
            headers={"Authorization": f"Bearer {SECRET}", "X-Forwarded-For": "203.0.113.200"},
        )
        assert forged.status_code == 403
    assert "wrong-key" not in gateway.log_text()


def test_a_right_key_resets_the_failure_count(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway) as client:
        for _ in range(3):
            for _ in range(4):
                assert (
                    client.get("/debug", headers={"Authorization": "Bearer nope"}).status_code
                    == 401
                )
            assert client.get("/debug").status_code == 200


def test_management_password_from_the_environment(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    password = "env-mgmt-password-4f0c2a9d"
    gateway = start_gateway(
        mgmt_config(fake_upstream.base_url, secret=None), env={"MANAGEMENT_PASSWORD": password}
    )
    with mgmt(gateway, key=password) as client:
        assert client.get("/debug").json() == {"debug": False}
    with mgmt(gateway, key="other") as client:
        assert client.get("/debug").status_code == 401
    assert password not in gateway.config_path.read_text()


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    for address in found.stdout.split():
        if "." in address and not address.startswith("127."):
            return address
    return None


def _reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("allow_remote", [False, True], ids=["denied", "allowed"])
@pytest.mark.invariant(8)
def test_remote_callers_need_allow_remote(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory, allow_remote: bool
) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    config = mgmt_config(
        fake_upstream.base_url, remote_management={"allow-remote": allow_remote}
    ).replace("host: 127.0.0.1", "host: 0.0.0.0")
    gateway = start_gateway(config)
    if not _reachable(address, gateway.port):
        pytest.skip(f"{address} is not reachable from this machine")
    url = f"http://{address}:{gateway.port}/v0/management/debug"
    headers = {"Authorization": f"Bearer {SECRET}"}
    remote = httpx.get(url, headers=headers, timeout=10, trust_env=False)
    if allow_remote:
        assert remote.status_code == 200
    else:
        assert remote.status_code == 403
        assert remote.json() == {"error": "remote management disabled"}
        # Claiming to be local in a header changes nothing.
        spoofed = {**headers, "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}
        assert httpx.get(url, headers=spoofed, timeout=10, trust_env=False).status_code == 403
    with mgmt(gateway) as local:
        assert local.get("/debug").status_code == 200


def test_forwarding_headers_count_only_from_a_trusted_proxy(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    trusted = mgmt_config(
        fake_upstream.base_url, remote_management={"trusted-proxies": ["127.0.0.1"]}
    )
    gateway = start_gateway(trusted)
    with mgmt(gateway) as client:
        # The loopback peer is a trusted proxy here, so the caller is who it forwards for.
        relayed = client.get("/debug", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 403
        assert relayed.json() == {"error": "remote management disabled"}
        chain = client.get("/debug", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1"})
        assert chain.status_code == 403
        assert client.get("/debug", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
        assert client.get("/debug").status_code == 200


@pytest.mark.invariant(8)
def test_a_same_host_proxy_that_is_not_trusted_counts_as_remote(
    shared_gateway: GatewayProcess,
) -> None:
    # A loopback peer that forwards for someone is a reverse proxy on this machine: behind it
    # every caller would look local (CliRelay #404), so without trust its calls are remote.
    with mgmt(shared_gateway) as client:
        for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
            relayed = client.get("/debug", headers={header: "203.0.113.9"})
            assert relayed.status_code == 403, header
            assert relayed.json() == {"error": "remote management disabled"}
        assert client.get("/debug").status_code == 200


COMMENTED = """\
# Operator notes: keep this comment.
host: 127.0.0.1
port: {port}
auth-dir: "{auth_dir}"
api-keys:
  - "sk-client-test-5b1d"  # the only client
remote-management:
  # the management secret, in plain text for now
  secret-key: "{secret}"
"""


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_plaintext_secret_is_hashed_and_written_back_with_comments(
    start_gateway: GatewayFactory,
) -> None:
    gateway = start_gateway(COMMENTED.replace("{secret}", SECRET))
    assert _wait_for(lambda: SECRET not in gateway.config_path.read_text())
    text = gateway.config_path.read_text()
    assert "# Operator notes: keep this comment." in text
    assert "# the management secret, in plain text for now" in text
    assert "# the only client" in text
    assert 'secret-key: "$2b$' in text or "secret-key: $2b$" in text
    with mgmt(gateway) as client:
        assert client.get("/debug").status_code == 200
        config_yaml = client.get("/config.yaml").text
        assert "$2b$" not in config_yaml
        assert "[hidden]" in config_yaml
        assert "# Operator notes: keep this comment." in config_yaml
        assert "$2b$" not in client.get("/config").text
    # After a restart the stored hash still admits the key.
    gateway.restart()
    with mgmt(gateway) as client:
        assert client.get("/debug").status_code == 200


def test_a_plaintext_secret_added_by_an_edit_is_hashed_too(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url, secret=None))
    legacy = mgmt_config(fake_upstream.base_url, secret=None) + f"remote-management-key: {SECRET}\n"
    gateway.rewrite_config(legacy)
    with mgmt(gateway) as client:
        assert _wait_for(lambda: client.get("/debug").status_code == 200)
    assert _wait_for(lambda: SECRET not in gateway.config_path.read_text())
    assert "remote-management-key: $2b$" in gateway.config_path.read_text()
