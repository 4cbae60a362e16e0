"""Upstream faults F3, F6, F7, F8 and F9 end to end (F1, F2, F4, F5 live in tests/e2e/test_pool.py).

The gateway runs as a process in front of the fake upstream; the fake counts every attempt and
notices when the gateway closes its connection.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faults.profile import runs
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "hello"}]
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MANAGEMENT = "mgmt-secret-for-faults"
SSE = {"content-type": "text/event-stream"}

GatewayAndUpstream = tuple[GatewayProcess, FakeUpstream]


def keys_used(upstream: FakeUpstream) -> list[str | None]:
    return [r.key for r in upstream.requests if r.endpoint == "generate"]


def chat(base_url: str, *, stream: bool = False, timeout: float = 20) -> httpx.Response:
    body = {"model": "m1", "messages": MESSAGES, "stream": stream}
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=timeout)


def data_lines(response: httpx.Response) -> list[str]:
    return [line for line in response.text.splitlines() if line.startswith("data: ")]


def auths(base_url: str) -> dict[str, dict[str, object]]:
    answer = httpx.get(
        f"{base_url}/v0/management/auths",
        headers={"authorization": f"Bearer {MANAGEMENT}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return {row["label"] or row["auth_index"]: row for row in answer.json()["auths"]}


# -- F3: hang before headers ---------------------------------------------------------------


@pytest.mark.invariant(14)
def test_a_hanging_upstream_times_out_at_the_idle_timeout_and_fails_over(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.hang(), key="sk-a")
    gateway = gateway_factory(
        gateway_config(
            openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]),
            timeouts={"idle-seconds": 1.5},
        )
    )
    started = time.monotonic()
    answer = chat(gateway.base_url)
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert keys_used(fake_upstream) == ["sk-a", "sk-b"]
    # The idle timeout fired (not earlier than configured), then the next key answered.
    assert 1.5 * 0.9 <= took < 1.5 + 3.0, took
    # The abandoned attempt's connection is closed, not left waiting on the hung upstream.
    assert fake_upstream.requests[0].wait_disconnected(timeout=2.0)


# -- F6: truncated and malformed upstream bodies ---------------------------------------------


@pytest.mark.invariant(11)
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            Reply.raw(
                b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m1",'
                b'"choices":[{"index":0,"delta":{"content":"par"}}]}\n\ndata: {not json\n\n',
                headers=SSE,
                chunked=True,
            ),
            id="malformed-event",
        ),
        pytest.param(
            Reply.raw(
                b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m1",'
                b'"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n',
                headers=SSE,
                chunked=True,
                truncate=True,
            ),
            id="truncated-chunked",
        ),
    ],
)
def test_a_broken_upstream_stream_ends_as_an_error_never_as_done(
    reply: Reply, fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(reply, key="sk-a")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    started = time.monotonic()
    try:
        answer = chat(gateway.base_url, stream=True, timeout=10)
    except httpx.RemoteProtocolError:
        answer = None  # an abrupt close is an honest end too
    assert time.monotonic() - started < 3.0
    if answer is not None:
        lines = data_lines(answer)
        assert "data: [DONE]" not in lines
        assert lines, answer.text
        assert '"error"' in lines[-1], answer.text
    # Bytes had reached the client: no second attempt on another key.
    assert keys_used(fake_upstream) == ["sk-a"]


def test_an_oversized_upstream_answer_is_cut_at_the_cap_with_a_clean_error(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    huge = b'{"id":"c1","object":"chat.completion","choices":[],"pad":"' + b"x" * (65 << 20)
    fake_upstream.default = Reply.raw(huge + b'"}')
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"])))
    answer = chat(gateway.base_url, timeout=30)
    assert answer.status_code in (502, 503), answer.status_code
    body = answer.json()
    assert "error" in body
    assert "Traceback" not in answer.text
    assert len(answer.content) < 64 * 1024


# -- F7: client disconnect in every phase --------------------------------------------------


def _raw_request(port: int, body: dict[str, object]) -> socket.socket:
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {CLIENT_KEY}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


@pytest.fixture(scope="module")
def one_key_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayAndUpstream]:
    """One gateway over one fake upstream with one key, shared by the disconnect phases."""
    with FakeUpstream() as upstream:
        gateway = GatewayProcess(
            gateway_config(openai_entry("up", upstream.base_url, ["sk-a"])),
            tmp_path=tmp_path_factory.mktemp("disconnect"),
        )
        with gateway.start():
            yield gateway, upstream


@pytest.mark.invariant(15)
@pytest.mark.parametrize(
    ("phase", "reply", "stream"),
    [
        ("before-headers-non-stream", Reply.hang(), False),
        ("before-first-token", Reply.ok("late", delay=30.0), True),
        ("mid-stream", Reply.ok("x " * 400, chunks=400, chunk_delay=0.05), True),
        ("non-stream-while-generating", Reply.ok("slow", delay=30.0), False),
    ],
)
def test_a_client_that_leaves_closes_the_upstream_call_within_a_second(
    phase: str, reply: Reply, stream: bool, one_key_gateway: GatewayAndUpstream
) -> None:
    gateway, upstream = one_key_gateway
    upstream.clear(scripts=True)
    upstream.default = reply
    port = int(gateway.base_url.rsplit(":", 1)[1])
    sock = _raw_request(port, {"model": "m1", "messages": MESSAGES, "stream": stream})
    assert upstream.wait_until(lambda: len(upstream.requests) == 1)
    if phase == "mid-stream":
        seen = b""
        while b"data: " not in seen:  # a first chunk reached the client
            more = sock.recv(4096)
            assert more, seen
            seen += more
    sock.close()
    left = time.monotonic()
    assert upstream.requests[0].wait_disconnected(timeout=3.0), phase
    assert time.monotonic() - left < 1.5, phase
    assert not upstream.requests[0].completed


# -- F8: a revoked credential ---------------------------------------------------------------


@pytest.mark.invariant(12)
def test_a_revoked_key_is_out_after_one_request_and_shown_so(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.set_default(Reply.error(401), key="sk-revoked")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-revoked", "sk-good"])),
        env={"MANAGEMENT_PASSWORD": MANAGEMENT},
    )
    for _ in range(10):
        assert chat(gateway.base_url).status_code == 200
    # One request found the key revoked; after that it is left alone.
    assert keys_used(fake_upstream).count("sk-revoked") == 1
    assert keys_used(fake_upstream).count("sk-good") == 10
    states = {row["status"] for row in auths(gateway.base_url).values()}
    assert states == {"cooling", "active"}, auths(gateway.base_url)


# -- F9: a flood of the client's own bad requests ----------------------------------------------


@pytest.mark.invariant(12)
@pytest.mark.timeout(runs(120, 600))
def test_a_flood_of_client_400s_takes_no_key_out_but_a_credit_400_does(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    bad = {"error": {"message": "messages: field required", "type": "invalid_request_error"}}
    fake_upstream.default = Reply.error(400, bad)
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"])),
        env={"MANAGEMENT_PASSWORD": MANAGEMENT},
    )
    flood = runs(200, 1000)
    with httpx.Client(timeout=10, headers=AUTH) as client:
        for _ in range(flood):
            answer = client.post(
                f"{gateway.base_url}/v1/chat/completions",
                json={"model": "m1", "messages": MESSAGES},
            )
            assert answer.status_code == 400
    # Passed through once each (no failover on a client's fault), both keys still serving.
    assert len(keys_used(fake_upstream)) == flood
    assert {row["status"] for row in auths(gateway.base_url).values()} == {"active"}
    fake_upstream.default = Reply.ok()
    assert {chat(gateway.base_url).json()["choices"][0]["message"]["content"] for _ in range(2)}
    assert set(keys_used(fake_upstream)[-2:]) == {"sk-a", "sk-b"}
    # An account-level 400 (Anthropic reports low credit so) does take that key out.
    credit = {"error": {"message": "Your credit balance is too low", "type": "invalid_request"}}
    fake_upstream.script(Reply.error(400, credit), key="sk-a")
    fake_upstream.script(Reply.error(400, credit), key="sk-a")
    for _ in range(3):
        assert chat(gateway.base_url).status_code == 200
    rows = auths(gateway.base_url)
    assert sorted(str(row["status"]) for row in rows.values()) == ["active", "cooling"]
