"""A non-streaming client that hangs up while the upstream is still thinking."""

from __future__ import annotations

import csv
import io
import json
import socket

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e


@pytest.mark.invariant(15)
def test_a_client_leaving_before_the_answer_cancels_the_upstream_call_and_counts_499(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("late", delay=30)
    entry = openai_entry("up", fake_upstream.base_url, ["sk-up-leaves"], ["m1"])
    gateway = gateway_factory(gateway_config(entry))
    data = json.dumps({"model": "m1", "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {CLIENT_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head.encode() + data)
        assert fake_upstream.wait_until(lambda: bool(fake_upstream.requests), 10)
    (upstream,) = fake_upstream.requests
    assert upstream.wait_disconnected(10), gateway.log_text()
    assert not upstream.completed
    # The gateway still answers, and the request is counted as the client's hang-up.
    exported = httpx.get(f"{gateway.base_url}/usage?format=csv", timeout=10).text
    (row,) = csv.DictReader(io.StringIO(exported))
    assert (row["status"], row["failed"], row["upstream_model"]) == ("499", "true", "")
