"""Request smuggling and route confusion over raw sockets (reliability plan B9, invariants 1, 3, 9).

Framing tricks (duplicate `Content-Length`, `Transfer-Encoding` with `Content-Length`, obsolete
line folding) must be refused or read one way only, so no second request hides in a body.
Path and Host tricks must never reach a management answer without the secret: the guard
decides on the route the router dispatched, whatever Host, absolute-form target or rewrite
header says. And nothing a client writes (a model name, a header) can inject a header into
the upstream request or pick the upstream host.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.management.support import SECRET, mgmt_config
from tests.support.configs import CLIENT_KEY
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

BODY = json.dumps({"model": "m1", "messages": [{"role": "user", "content": "hi"}]}).encode()

_source = iter(range(10, 250))


def exchange(port: int, raw: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes from a fresh loopback address; everything the gateway answers until close.

    Each call uses its own 127.0.0.N source, so the management guard's per-address failure
    count never turns a refusal into a ban that would hide why a probe was refused.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((f"127.0.0.{next(_source)}", 0))
    with sock:
        sock.connect(("127.0.0.1", port))
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return data


def statuses(answer: bytes) -> list[int]:
    """The status of every response in a byte stream (a smuggled request adds one)."""
    return [
        int(line.split(b" ")[1])
        for line in answer.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ") and line[9:12].isdigit()
    ]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = mgmt_config(upstream.base_url)
    with GatewayProcess(config, tmp_path=tmp_path_factory.mktemp("smuggling")) as process:
        yield process


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.clear(scripts=True)
    return upstream


def chat_head(extra: str = "", *, target: str = "/v1/chat/completions") -> bytes:
    return (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {CLIENT_KEY}\r\n"
        f"Content-Type: application/json\r\n{extra}"
    ).encode()


SMUGGLED = b"GET /v0/management/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        chat_head(f"Content-Length: {len(BODY)}\r\nContent-Length: {len(BODY) + 5}\r\n\r\n")
        + BODY
        + b"XXXXX",
        chat_head(f"Content-Length: {len(BODY)}, {len(BODY)}\r\n\r\n") + BODY,
        chat_head(f"Transfer-Encoding: chunked\r\nContent-Length: {len(BODY)}\r\n\r\n")
        + b"%x\r\n%b\r\n0\r\n\r\n" % (len(BODY), BODY)
        + SMUGGLED,
        chat_head(f"Content-Length: {len(BODY)}\r\nTransfer-Encoding: chunked\r\n\r\n")
        + b"0\r\n\r\n"
        + SMUGGLED,
        chat_head("Transfer-Encoding: chunked, identity\r\n\r\n") + b"0\r\n\r\n" + SMUGGLED,
        chat_head("Transfer-Encoding : chunked\r\n\r\n") + b"0\r\n\r\n" + SMUGGLED,
        chat_head("Content-Length: -1\r\n\r\n") + BODY,
        chat_head("Content-Length: +12\r\n\r\n") + BODY,
    ],
    ids=[
        "two-lengths",
        "length-list",
        "te-and-cl",
        "cl-and-te",
        "te-list",
        "space-before-colon",
        "negative-length",
        "signed-length",
    ],
)
def test_ambiguous_framing_never_hides_a_second_request(
    gateway: GatewayProcess, fake: FakeUpstream, raw: bytes
) -> None:
    answer = exchange(gateway.port, raw)
    codes = statuses(answer)
    assert codes, answer[:300]
    # One request was read (served or refused); the smuggled management call never ran.
    assert len(codes) == 1, answer[:600]
    assert codes[0] != 500
    assert b'"secret-key"' not in answer
    assert len(fake.requests) <= 1


MANAGEMENT_TRICKS = [
    "/v0/management/config",
    "/v0//management/config",
    "//v0/management/config",
    "/v0/management/./config",
    "/v0/management/config/",
    "/v0/management/config;x=1",
    "/v0/%6danagement/config",
    "/v0/management%2fconfig",
    "/V0/management/config",
    "/v1/../v0/management/config",
    "/panel/../v0/management/config",
    "/v1/models/../../v0/management/config",
    "http://evil.example/v0/management/config",
    "http://127.0.0.1/v0/management/config",
]


@pytest.mark.invariant(8, 9)
@pytest.mark.parametrize("target", MANAGEMENT_TRICKS)
def test_no_path_or_target_trick_reaches_management_without_the_secret(
    gateway: GatewayProcess, target: str
) -> None:
    raw = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    answer = exchange(gateway.port, raw)
    (code,) = statuses(answer)
    assert code in (400, 401, 403, 404, 405), answer[:300]
    assert b"api-keys" not in answer
    assert CLIENT_KEY.encode() not in answer


@pytest.mark.invariant(9)
@pytest.mark.parametrize(
    "headers",
    [
        "Host: x/../v0/management\r\n",
        "Host: 127.0.0.1/v0/management/config\r\n",
        "Host: 127.0.0.1\r\nX-Original-URL: /v0/management/config\r\n",
        "Host: 127.0.0.1\r\nX-Rewrite-URL: /v0/management/config\r\n",
        "Host: 127.0.0.1\r\nX-Forwarded-Prefix: /v0/management\r\n",
        "Host: 127.0.0.1\r\nX-Forwarded-Host: evil.example\r\nForwarded: host=evil.example\r\n",
    ],
    ids=[
        "host-path",
        "host-route",
        "x-original-url",
        "x-rewrite-url",
        "forwarded-prefix",
        "forwarded-host",
    ],
)
def test_the_answer_is_the_dispatched_routes_whatever_host_or_rewrite_headers_say(
    gateway: GatewayProcess, headers: str
) -> None:
    raw = (
        f"GET /v1/models HTTP/1.1\r\n{headers}Authorization: Bearer {CLIENT_KEY}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = exchange(gateway.port, raw)
    (code,) = statuses(answer)
    if code == 400:
        return  # a Host the server refuses outright is a fine answer too
    assert code == 200, answer[:300]
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["object"] == "list"  # the model list, not a management document
    # And the same tricks on a management route without the secret stay refused.
    raw = f"GET /v0/management/config HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()
    (code,) = statuses(exchange(gateway.port, raw))
    assert code in (400, 401, 403), code


def test_the_right_secret_still_opens_management(gateway: GatewayProcess) -> None:
    # The positive control of the probes above: the guard refuses tricks, not everything.
    response = httpx.get(
        f"{gateway.base_url}/v0/management/config",
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.invariant(1)
def test_an_absolute_form_target_never_picks_the_upstream_host(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen()
    canary.settimeout(0.5)
    with canary:
        port = canary.getsockname()[1]
        raw = chat_head(
            f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n",
            target=f"http://127.0.0.1:{port}/v1/chat/completions",
        )
        answer = exchange(gateway.port, raw + BODY)
        with pytest.raises(TimeoutError):
            canary.accept()
    assert statuses(answer) == [200]
    assert len(fake.requests) == 1


@pytest.mark.invariant(3)
@pytest.mark.parametrize(
    "model",
    [
        "m1\r\nX-Injected: yes",
        "m1\nX-Injected: yes",
        "m1\u0000X-Injected: yes",
        "m1\r\n\r\nGET / HTTP/1.1",
    ],
    ids=["crlf", "lf", "nul", "split"],
)
def test_a_model_name_never_injects_an_upstream_header(
    gateway: GatewayProcess, fake: FakeUpstream, model: str
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500, response.text
    for seen in fake.requests:
        assert "x-injected" not in seen.headers


@pytest.mark.invariant(3)
def test_folded_and_forwarded_headers_never_inject_an_upstream_header(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    raw = chat_head(
        f"anthropic-beta: a\r\n X-Injected: folded\r\nContent-Length: {len(BODY)}\r\n"
        "Connection: close\r\n\r\n",
        target="/v1/messages",
    )
    claude = json.dumps(
        {"model": "m1", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    answer = exchange(
        gateway.port, raw.replace(str(len(BODY)).encode(), str(len(claude)).encode()) + claude
    )
    codes = statuses(answer)
    assert len(codes) == 1
    assert codes[0] != 500
    for seen in fake.requests:
        assert "x-injected" not in seen.headers
        assert all("\r" not in v and "\n" not in v for v in seen.headers.values())
