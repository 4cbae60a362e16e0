"""Bad input gets a clean 4xx in the OpenAI error shape, and the process lives on."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
JSON = {**AUTH, "content-type": "application/json"}


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, gateway_factory: GatewayFactory) -> GatewayProcess:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    return gateway_factory(gateway_config(entry, limits={"max-body-mb": 0.01}))


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", JSON, 400, "invalid_request"),
        (b'{"model": "m1", "messages": [] } trailing', JSON, 400, "invalid_request"),
        (b"[1, 2, 3]", JSON, 400, "invalid_request"),
        (b"\xff\xfe garbage", JSON, 400, "invalid_request"),
        (b"[" * 4000 + b"]" * 4000, JSON, 400, "invalid_request"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', JSON, 400, "invalid_request"),
        (b'{"model": "m1"}', JSON, 400, "invalid_request"),
        (b'{"model": "m1", "messages": "hi"}', JSON, 400, "invalid_request"),
        (
            b'{"model": "m1", "messages": [{"role":"user","content":"x"}], "stream": "yes"}',
            JSON,
            400,
            "invalid_request",
        ),
        (
            b'{"model": "m1", "messages": [{"role":"user","content":"x"}]}',
            {**AUTH, "content-type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            b'{"model": "m1", "messages": [{"role":"user","content":"' + b"x" * 20_000 + b'"}]}',
            JSON,
            413,
            "request_too_large",
        ),
    ],
    ids=[
        "malformed",
        "trailing-garbage",
        "not-an-object",
        "invalid-utf8",
        "deep-nesting",
        "missing-model",
        "missing-messages",
        "messages-not-array",
        "stream-not-bool",
        "wrong-content-type",
        "over-limit",
    ],
)
def test_bad_body_is_a_clean_4xx(
    gateway: GatewayProcess,
    fake_upstream: FakeUpstream,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions", content=content, headers=headers
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if status == 400:
        # Errors that teach: every shape error carries a request that would have worked.
        assert 'A minimal valid request: {"model": ' in error["message"]
    assert "Traceback" not in response.text
    assert fake_upstream.requests == []
    assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200


def test_over_limit_chunked_body_is_cut_off(gateway: GatewayProcess) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    response = httpx.post(f"{gateway.base_url}/v1/chat/completions", content=chunks(), headers=JSON)  # type: ignore[arg-type]
    assert response.status_code == 413


def test_lying_content_length_is_refused_before_reading(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {CLIENT_KEY}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413")


def test_wrong_client_key_gets_401_and_no_upstream_call(
    gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    body = {"model": "m1", "messages": [{"role": "user", "content": "x"}]}
    for headers in (
        {},
        {"authorization": "Bearer wrong"},
        {"x-api-key": "wrong"},
        {"authorization": "Bearer"},
    ):
        response = httpx.post(f"{gateway.base_url}/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    models = httpx.get(f"{gateway.base_url}/v1/models", headers={"authorization": "Bearer wrong"})
    assert models.status_code == 401
    assert httpx.get(f"{gateway.base_url}/v1/models", params={"key": CLIENT_KEY}).status_code == 200
    assert fake_upstream.requests == []


def test_unknown_route_and_wrong_method(gateway: GatewayProcess) -> None:
    missing = httpx.get(f"{gateway.base_url}/v1/nothing-here", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(f"{gateway.base_url}/v1/chat/completions", headers=AUTH)
    assert wrong.status_code == 405
    assert "error" in wrong.json()


def test_forwarding_headers_never_make_a_caller_local(gateway: GatewayProcess) -> None:
    # /usage is served to loopback peers only. A loopback peer that forwards for someone else
    # is a reverse proxy on this machine (CliRelay #404): its callers are not local.
    assert httpx.get(f"{gateway.base_url}/usage").status_code == 200
    for relayed in ({"x-forwarded-for": "127.0.0.1"}, {"forwarded": "for=127.0.0.1"}):
        assert httpx.get(f"{gateway.base_url}/usage", headers=relayed).status_code == 403
