"""Connection limits of the real process: header deadline, stalled readers, bounded memory."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def request_bytes(body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {CLIENT_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closed (EOF or reset); waits up to the socket's timeout."""
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def limited(fake_upstream: FakeUpstream, gateway_factory: GatewayFactory) -> GatewayProcess:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    limits = {"header-timeout-seconds": 1, "client-idle-seconds": 1}
    return gateway_factory(gateway_config(entry, limits=limits))


@pytest.mark.invariant(14)
def test_a_client_trickling_headers_is_cut_off(limited: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        cut = False
        # Twenty seconds of one byte every 0.2 s: far past the 1 s header deadline.
        for byte in b"X-Slow: " + b"a" * 92:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            sock.settimeout(0.2)
            if closed_by_peer(sock):
                cut = True
                break
        assert cut, "the gateway kept a connection whose headers never ended"
    # Whole requests on fresh connections still work.
    response = httpx.post(
        f"{limited.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200


def test_a_silent_connection_is_closed(limited: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        assert closed_by_peer(sock)


@pytest.mark.invariant(14, 15)
def test_a_client_that_stops_reading_is_cut_off_and_the_upstream_call_stops(
    fake_upstream: FakeUpstream, limited: GatewayProcess
) -> None:
    # 32 MiB of stream: far more than the socket buffers between the gateway and the client.
    fake_upstream.default = Reply.ok("y" * (32 * MIB), chunks=2048)
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request_bytes(body))
        deadline = time.monotonic() + 30
        while not fake_upstream.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        (upstream,) = fake_upstream.requests
        # The client reads nothing; the gateway gives up on it and closes the upstream call.
        assert upstream.wait_disconnected(30), limited.log_text()
        assert not upstream.completed
    assert "client stopped reading" in limited.log_text()


@pytest.mark.invariant(14)
def test_a_slow_reader_keeps_the_gateway_memory_bounded(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry, limits={"client-idle-seconds": 60}))
    assert gateway.pid is not None
    size = 96 * MIB
    # A full stream first, so the baseline includes what any stream allocates.
    fake_upstream.script(Reply.ok("w" * (8 * MIB), chunks=512))
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=120,
    ) as warm:
        assert sum(len(part) for part in warm.iter_bytes()) > 8 * MIB
    fake_upstream.default = Reply.ok("z" * size, chunks=6144)
    fake_upstream.clear()
    baseline = rss_bytes(gateway.pid)
    received = 0
    peak = baseline
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request_bytes(body))
        # Read 16 KiB every 20 ms (under 1 MiB/s) for about four seconds.
        for _ in range(200):
            received += len(sock.recv(16 * 1024))
            time.sleep(0.02)
            peak = max(peak, rss_bytes(gateway.pid))
        (upstream,) = fake_upstream.requests
        # Backpressure reached the upstream: it could not write its whole answer.
        assert not upstream.completed
    assert received > 0
    growth = peak - baseline
    # The upstream offered 96 MiB; the gateway held at most a few socket buffers of it.
    assert growth < 24 * MIB, f"RSS grew by {growth / MIB:.1f} MiB"
