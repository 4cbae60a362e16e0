"""A client that goes away cancels its upstream call, in every phase (invariant 15).

The LiteLLM class of bug: the client leaves and the upstream call runs on, burning quota. Each
phase is checked where the fake upstream can see it: its connection closes soon after the
client's, and the upstream never finishes writing its answer.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    settings = {"request-retry": 0, "disable-cooling": True}
    config = gateway_config(openai_entry("up", upstream.base_url, ["sk-a"]), **settings)
    with GatewayProcess(config, tmp_path=tmp_path_factory.mktemp("disconnect")) as process:
        yield process


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.clear(scripts=True)
    return upstream


def request_bytes(*, stream: bool) -> bytes:
    body = json.dumps(
        {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    ).encode()
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {CLIENT_KEY}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def wait_for_upstream_call(fake: FakeUpstream) -> None:
    assert fake.wait_until(lambda: len(fake.requests) == 1, timeout=10), "no upstream call"


@pytest.mark.invariant(15)
@pytest.mark.parametrize(
    ("reply", "stream", "read_first"),
    [
        (Reply.hang(), False, False),
        (Reply.hang(), True, False),
        (Reply.ok("slow answer", delay=30), False, False),
        (Reply.ok("word " * 200, chunks=200, chunk_delay=0.1), True, True),
    ],
    ids=["non-stream-before-headers", "stream-before-headers", "non-stream-slow", "mid-stream"],
)
def test_the_upstream_call_ends_soon_after_the_client_leaves(
    gateway: GatewayProcess, fake: FakeUpstream, reply: Reply, stream: bool, read_first: bool
) -> None:
    fake.script(reply)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request_bytes(stream=stream))
        wait_for_upstream_call(fake)
        if read_first:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # the stream had begun
        left = time.monotonic()
    (call,) = fake.requests
    assert call.wait_disconnected(5.0), "the upstream call ran on after the client left"
    assert time.monotonic() - left < 5.0
    assert not call.completed
