"""Canary secrets driven through every path never show up in logs, usage or client answers."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e


def canary(kind: str) -> str:
    return f"sk-canary-{kind}-{uuid.uuid4().hex}"


@pytest.mark.invariant(2, 4)
def test_no_secret_reaches_logs_usage_or_other_clients(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    client_key, wrong_key = canary("client"), canary("wrong")
    upstream_a, upstream_b, later_key = canary("up-a"), canary("up-b"), canary("later")
    secrets = [client_key, wrong_key, upstream_a, upstream_b, later_key]
    settings = {"debug": True, "logging-to-file": True, "usage-statistics-enabled": True}
    entry = openai_entry("up", fake_upstream.base_url, [upstream_a, upstream_b])
    gateway = gateway_factory(gateway_config(entry, api_keys=[client_key], **settings))
    url = f"{gateway.base_url}/v1/chat/completions"
    auth = {"authorization": f"Bearer {client_key}"}
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
    answers: list[str] = []

    def send(**kwargs: object) -> httpx.Response:
        response = httpx.post(url, timeout=10, **kwargs)  # type: ignore[arg-type]
        answers.append(f"{response.status_code} {response.headers} {response.text}")
        return response

    # An upstream that echoes the presented key in its errors (401 → failover, 400 → relayed).
    fake_upstream.script(Reply.echo_key(401), key=upstream_a)
    assert send(json=body, headers=auth).status_code == 200
    fake_upstream.script(Reply.echo_key(400), key=upstream_b)
    assert send(json=body, headers=auth).status_code == 400
    assert send(json={**body, "stream": True}, headers=auth).status_code == 200
    assert send(json=body, headers={"authorization": f"Bearer {wrong_key}"}).status_code == 401
    assert send(json=body, headers={"x-api-key": wrong_key}).status_code == 401
    assert send(json={**body, "model": "nope"}, headers=auth).status_code == 404
    assert (
        send(content=b"{not json", headers={**auth, "content-type": "application/json"}).status_code
        == 400
    )
    answers.append(httpx.get(f"{gateway.base_url}/v1/models", headers=auth).text)
    answers.append(httpx.get(f"{gateway.base_url}/usage").text)

    # A reload that adds a key, then a broken one that carries a secret in a bad value.
    gateway.rewrite_config(gateway_config(entry, api_keys=[client_key, later_key], **settings))
    time.sleep(1.0)
    assert send(json=body, headers={"authorization": f"Bearer {later_key}"}).status_code == 200
    broken = gateway_config(entry, api_keys=[client_key], **settings).replace(
        "port:", f"proxy-url: [{later_key}]\nport:"
    )
    gateway.rewrite_config(broken)
    time.sleep(1.0)
    assert gateway.stop() == 0

    logs = gateway.log_text()
    assert "reload rejected" in logs  # the broken file was seen, and its secret stayed out
    usage_file = (gateway.auth_dir / "usage" / "usage-statistics.json").read_text()
    # The upstream saw each of its keys: the canaries were really used.
    assert {request.key for request in fake_upstream.requests} >= {upstream_a, upstream_b, None} - {
        None
    }
    for secret in secrets:
        assert secret not in logs, f"{secret[:16]} leaked into the logs"
        assert secret not in usage_file
    for secret in (upstream_a, upstream_b, wrong_key):
        for answer in answers:
            assert secret not in answer, f"{secret[:16]} reached a client: {answer[:200]}"
