"""Hostile upstream replies: caps enforced, a clean error for the client, bounded memory.

Reliability plan B11 (API10, unsafe consumption of APIs): an upstream is untrusted. Huge
headers, an SSE line that never ends, events that are not JSON (or not UTF-8) and a gzip bomb
must each end in the client's own error shape, with the gateway's memory far below what the
upstream offered, and the process healthy afterwards.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
CHAT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
CLAUDE = {"model": "m1", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
SSE = {"content-type": "text/event-stream"}


@cache
def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MIB
    parts = [packer.compress(block) for _ in range(size // MIB)]
    return b"".join(parts) + packer.flush()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    # No retries, no cooldowns: each test sees exactly its own scripted reply.
    settings = {"request-retry": 0, "disable-cooling": True}
    config = gateway_config(openai_entry("up", upstream.base_url, ["sk-a"]), **settings)
    with GatewayProcess(config, tmp_path=tmp_path_factory.mktemp("hostile-up")) as process:
        yield process


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.clear(scripts=True)
    return upstream


def chat(gateway: GatewayProcess, *, stream: bool = False) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={**CHAT, "stream": stream},
        headers=AUTH,
        timeout=60,
    )


def claude_stream(gateway: GatewayProcess) -> httpx.Response:
    # Anthropic client, OpenAI upstream: the events are translated, so each one is parsed.
    return httpx.post(
        f"{gateway.base_url}/v1/messages",
        json={**CLAUDE, "stream": True},
        headers={**AUTH, "anthropic-version": "2023-06-01"},
        timeout=60,
    )


def healthy(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/healthz", timeout=10).status_code == 200
    assert "Traceback" not in gateway.log_text()


@pytest.mark.invariant(14)
def test_a_gzip_bomb_answer_is_cut_at_the_answer_limit(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    assert gateway.pid is not None
    bomb = gzip_bomb(512 * MIB)
    fake.script(Reply.raw(bomb, headers={"content-encoding": "gzip"}))
    before = rss_bytes(gateway.pid)
    response = chat(gateway)
    growth = rss_bytes(gateway.pid) - before
    assert response.status_code == 502, response.text[:300]
    assert response.json()["error"]["message"]
    # 512 MiB offered; the gateway stops at its 64 MiB answer limit (plus one inflated chunk).
    assert growth < 200 * MIB, f"RSS grew by {growth / MIB:.0f} MiB"
    healthy(gateway)


@pytest.mark.invariant(11, 14)
def test_an_sse_line_that_never_ends_is_cut_with_an_error_event(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    assert gateway.pid is not None
    endless = b"data: " + b"x" * (24 * MIB)  # no newline, ever
    fake.script(Reply.raw(endless, headers=SSE, chunked=True))
    before = rss_bytes(gateway.pid)
    response = claude_stream(gateway)
    growth = rss_bytes(gateway.pid) - before
    assert response.status_code == 200  # the stream had begun (its headers were sent)
    assert "event: error" in response.text
    assert "message_stop" not in response.text
    assert growth < 120 * MIB, f"RSS grew by {growth / MIB:.0f} MiB"
    healthy(gateway)


@pytest.mark.invariant(11)
@pytest.mark.parametrize(
    "payload",
    [b"data: {not json\n\n", b'data: {"choices": [{"delta": {"content": "\xff\xfe"}}]}\n\n'],
    ids=["not-json", "not-utf8"],
)
def test_unreadable_events_end_a_translated_stream_with_an_error(
    gateway: GatewayProcess, fake: FakeUpstream, payload: bytes
) -> None:
    good = b'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "ok"}}]}\n\n'
    fake.script(Reply.raw(good + payload + b"data: [DONE]\n\n", headers=SSE, chunked=True))
    response = claude_stream(gateway)
    assert response.status_code == 200
    assert "event: error" in response.text
    # The lost chunk makes the answer incomplete: no terminator may claim otherwise.
    assert "message_stop" not in response.text
    healthy(gateway)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"choices": "\xff"}', b"[]" * 10, b""],
    ids=["not-json", "not-utf8", "array", "empty"],
)
def test_an_unreadable_whole_answer_is_a_502_in_the_callers_dialect(
    gateway: GatewayProcess, fake: FakeUpstream, body: bytes
) -> None:
    fake.script(Reply.raw(body))
    response = httpx.post(
        f"{gateway.base_url}/v1/messages",
        json=CLAUDE,
        headers={**AUTH, "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert response.status_code == 502, response.text[:300]
    assert response.json()["type"] == "error"
    healthy(gateway)


def test_huge_upstream_headers_are_refused(gateway: GatewayProcess, fake: FakeUpstream) -> None:
    fake.script(Reply.raw(b'{"id": "x"}', headers={"x-huge": "h" * (4 * MIB)}))
    response = chat(gateway)
    assert response.status_code == 502, response.text[:300]
    assert "x-huge" not in response.headers
    healthy(gateway)


def test_many_upstream_headers_are_refused(gateway: GatewayProcess, fake: FakeUpstream) -> None:
    many = {f"x-h{i}": "v" * 64 for i in range(20_000)}
    fake.script(Reply.raw(b'{"id": "x"}', headers=many))
    response = chat(gateway)
    assert response.status_code == 502, response.text[:300]
    healthy(gateway)
