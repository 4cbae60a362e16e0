"""Hot reload: the file is watched, validated and swapped; a bad file changes nothing."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
NEW_KEY = "sk-client-added-later-77f1"


def post(base_url: str, key: str, body: dict[str, object] = BODY) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )


def wait_for(predicate: object, timeout: float) -> float | None:
    """Seconds until predicate() is true, or None when it never is within timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_new_client_key_works_within_two_seconds(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry))
    assert post(gateway.base_url, NEW_KEY).status_code == 401
    gateway.rewrite_config(gateway_config(entry, api_keys=[CLIENT_KEY, NEW_KEY]))
    elapsed = wait_for(lambda: post(gateway.base_url, NEW_KEY).status_code == 200, timeout=5)
    assert elapsed is not None, gateway.log_text()
    assert elapsed < 2.0
    assert post(gateway.base_url, CLIENT_KEY).status_code == 200


@pytest.mark.parametrize(
    "broken",
    [
        "host: [unclosed\n",
        "port: {port}\napi-keys: [x]\nopenai-compatibility:\n  - name: a\n    base-url: ftp://nope\n",
        "port: {port}\nunknown-key: 1\n",
        "",
        "port: {port}\napi-keys: [your-api-key-1]\n",
    ],
    ids=["yaml-syntax", "invalid-value", "unknown-key", "empty-file", "placeholder-key"],
)
@pytest.mark.invariant(6)
def test_invalid_config_keeps_the_old_one(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, broken: str
) -> None:
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"])))
    assert post(gateway.base_url, CLIENT_KEY).status_code == 200
    gateway.rewrite_config(broken)
    logged = wait_for(lambda: "reload rejected" in gateway.log_text(), timeout=5)
    assert logged is not None, gateway.log_text()
    assert post(gateway.base_url, CLIENT_KEY).status_code == 200
    assert len(fake_upstream.requests) == 2


def test_cooldowns_survive_a_reload(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "60"}), key="sk-a")
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"])
    gateway = gateway_factory(gateway_config(entry))
    assert post(gateway.base_url, CLIENT_KEY).status_code == 200
    # An unrelated change (a new client key) reloads the runtime; sk-a must still be resting.
    gateway.rewrite_config(gateway_config(entry, api_keys=[CLIENT_KEY, NEW_KEY]))
    assert (
        wait_for(lambda: post(gateway.base_url, NEW_KEY).status_code == 200, timeout=5) is not None
    )
    for _ in range(3):
        assert post(gateway.base_url, CLIENT_KEY).status_code == 200
    assert [r.key for r in fake_upstream.requests] == [
        "sk-a",
        "sk-b",
        "sk-b",
        "sk-b",
        "sk-b",
        "sk-b",
    ]


@pytest.mark.invariant(6)
def test_in_flight_request_finishes_on_its_snapshot(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("slow answer", chunks=10, chunk_delay=0.15)
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry))
    body = {**BODY, "stream": True}
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    ) as response:
        # Remove the model while the stream is running; the stream still completes.
        gateway.rewrite_config(
            gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"], ["other"]))
        )
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    gone = wait_for(lambda: post(gateway.base_url, CLIENT_KEY).status_code == 404, timeout=5)
    assert gone is not None


def test_a_port_change_is_logged_as_needing_a_restart(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry))
    moved = gateway_config(entry, api_keys=[CLIENT_KEY, NEW_KEY]).replace("{port}", "1")
    gateway.rewrite_config(moved)
    logged = wait_for(lambda: "port changed: takes effect after a restart" in gateway.log_text(), 5)
    assert logged is not None, gateway.log_text()
    # The listener stays where it is; the rest of the change is live.
    assert post(gateway.base_url, NEW_KEY).status_code == 200
