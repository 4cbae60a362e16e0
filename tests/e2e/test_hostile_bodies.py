"""Hostile request bodies on every client route: a clean 4xx in the caller's dialect, nothing else.

Reliability plan B4 (malformed JSON), B6 (invalid UTF-8, lone surrogates, NUL) and B7 (deep
nesting, a million keys, huge strings and integers). Each body goes to the four dialects'
routes; the answer must be the route's own error shape with the right status, no stack trace,
no upstream call, within the client's timeout, and the process must stay healthy.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
JSON = {**AUTH, "content-type": "application/json"}

ROUTES = {
    "openai": "/v1/chat/completions",
    "responses": "/v1/responses",
    "claude": "/v1/messages",
    "gemini": "/v1beta/models/m1:generateContent",
}


def openai_shape(body: Any) -> str:
    error = body["error"]
    assert isinstance(error["message"], str)
    assert isinstance(error["type"], str)
    return str(error["message"])


def claude_shape(body: Any) -> str:
    assert body["type"] == "error"
    assert isinstance(body["error"]["type"], str)
    return str(body["error"]["message"])


def gemini_shape(body: Any) -> str:
    error = body["error"]
    assert isinstance(error["code"], int)
    assert isinstance(error["status"], str)
    return str(error["message"])


SHAPES: dict[str, Callable[[Any], str]] = {
    "openai": openai_shape,
    "responses": openai_shape,
    "claude": claude_shape,
    "gemini": gemini_shape,
}

VALID = b'{"model": "m1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}'


def deep(depth: int, open_: bytes, close: bytes) -> bytes:
    return open_ * depth + b"1" + close * depth


def million_keys() -> bytes:
    # Four-character keys keep a million of them under the 16 MiB limit of this module.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    keys = (
        a + b + c + d for a in alphabet[:22] for b in alphabet for c in alphabet for d in alphabet
    )
    inner = ",".join(f'"{key}":0' for _, key in zip(range(1_000_000), keys, strict=False))
    return ('{"model": "m1", "extra": {' + inner + "}}").encode()


# (body, status); every body is refused before any upstream call.
BAD_BODIES: dict[str, tuple[bytes, int]] = {
    # B4: malformed JSON.
    "truncated": (VALID[:30], 400),
    "trailing-garbage": (VALID + b" }{", 400),
    "nan": (VALID.replace(b'"max_tokens": 8', b'"temperature": NaN'), 400),
    "infinity": (VALID.replace(b'"max_tokens": 8', b'"temperature": -Infinity'), 400),
    "bom": (b"\xef\xbb\xbf" + VALID, 400),
    "top-level-array": (b"[" + VALID + b"]", 400),
    "top-level-string": (b'"hello"', 400),
    "empty": (b"", 400),
    "single-quotes": (VALID.replace(b'"', b"'"), 400),
    "comment": (b"/* hi */" + VALID, 400),
    # B6: bytes that are not text.
    "invalid-utf8": (VALID.replace(b"hi", b"\xff\xfe\xc3"), 400),
    "overlong-utf8": (VALID.replace(b"hi", b"\xc0\xaf"), 400),
    "raw-nul": (VALID.replace(b"hi", b"h\x00i"), 400),
    "lone-surrogate-escape": (VALID.replace(b"hi", b"\\ud800"), 400),
    # B7: size and shape bombs.
    "deep-arrays": (deep(100_000, b"[", b"]"), 400),
    "deep-objects": (deep(100_000, b'{"a":', b"}"), 400),
    "deep-inside-valid": (
        VALID.replace(b'"max_tokens": 8', b'"metadata": ' + deep(50_000, b"[", b"]")),
        400,
    ),
    "million-digit-integer": (VALID.replace(b"8}", b"1" * 1_000_000 + b"}"), 400),
    "million-keys": (million_keys(), 400),
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    entry = openai_entry("up", upstream.base_url, ["sk-a"])
    config = gateway_config(entry, limits={"max-body-mb": 16})
    with GatewayProcess(config, tmp_path=tmp_path_factory.mktemp("hostile")) as process:
        yield process


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.clear(scripts=True)
    return upstream


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("dialect", list(ROUTES))
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_hostile_body_is_a_clean_4xx_in_the_callers_dialect(
    gateway: GatewayProcess, fake: FakeUpstream, case: str, dialect: str
) -> None:
    content, status = BAD_BODIES[case]
    response = httpx.post(
        gateway.base_url + ROUTES[dialect], content=content, headers=JSON, timeout=10
    )
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    message = SHAPES[dialect](response.json())
    assert message
    assert "Traceback" not in response.text
    assert "RecursionError" not in response.text
    assert fake.requests == []


def test_the_process_is_healthy_and_its_memory_bounded_after_the_bombs(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    assert gateway.pid is not None
    before = rss_bytes(gateway.pid)
    for _ in range(2):
        for case in ("million-keys", "deep-arrays", "million-digit-integer"):
            content, _status = BAD_BODIES[case]
            httpx.post(
                gateway.base_url + ROUTES["claude"], content=content, headers=JSON, timeout=10
            )
    growth = rss_bytes(gateway.pid) - before
    # Repeating the bombs leaves no growing residue: each request's parse is freed with it.
    assert growth < 64 * MIB, f"RSS grew by {growth / MIB:.0f} MiB over repeated bombs"
    assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200
    log = gateway.log_text()
    assert "Traceback" not in log
    assert "RecursionError" not in log


@pytest.mark.parametrize("dialect", list(ROUTES))
def test_a_wrong_content_type_is_415_in_the_callers_dialect(
    gateway: GatewayProcess, fake: FakeUpstream, dialect: str
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = httpx.post(
            gateway.base_url + ROUTES[dialect],
            content=VALID,
            headers={**AUTH, "content-type": content_type},
            timeout=10,
        )
        assert response.status_code == 415, (content_type, response.text)
        assert SHAPES[dialect](response.json())
    assert fake.requests == []


def test_a_missing_content_type_is_read_as_json(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    # SDKs always send one; curl-like callers that omit it still get JSON semantics.
    response = httpx.post(
        gateway.base_url + ROUTES["openai"], content=VALID, headers=AUTH, timeout=10
    )
    assert response.status_code == 200
    assert len(fake.requests) == 1


def test_duplicate_keys_mean_one_thing_to_the_gateway_and_the_upstream(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    # JSON parsers disagree on duplicate keys; the gateway re-encodes the body it parsed, so the
    # upstream can never read a different model (or field) than the one that was checked.
    body = (
        b'{"model": "not-routed", "model": "m1", "messages": [{"role": "user", "content": "a"}],'
        b' "messages": [{"role": "user", "content": "b"}]}'
    )
    response = httpx.post(
        gateway.base_url + ROUTES["openai"], content=body, headers=JSON, timeout=10
    )
    assert response.status_code == 200
    (seen,) = fake.requests
    assert seen.body.count(b'"model"') == 1
    assert seen.body.count(b'"messages"') == 1
    assert seen.json["messages"] == [{"role": "user", "content": "b"}]


def test_escaped_nul_and_control_characters_pass_through_intact(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    text = "a\u0000b\u001fc\u2028d"
    body = {"model": "m1", "messages": [{"role": "user", "content": text}]}
    response = httpx.post(
        gateway.base_url + ROUTES["openai"], content=json.dumps(body), headers=JSON, timeout=10
    )
    assert response.status_code == 200
    assert fake.requests[0].json["messages"][0]["content"] == text


def test_invalid_utf8_in_headers_and_path_is_never_a_500(gateway: GatewayProcess) -> None:
    requests = [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(VALID), VALID),
        b"GET /v1/models/\xff\xc0 HTTP/1.1\r\nHost: x\r\n"
        + b"Authorization: Bearer "
        + CLIENT_KEY.encode()
        + b"\r\n\r\n",
        b"GET /v1/%ff%fe HTTP/1.1\r\nHost: x\r\nX-Odd: \xc3\x28\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\xe9y\r\n"
        b"anthropic-version: \xff\r\nContent-Length: %d\r\n\r\n%b" % (len(VALID), VALID),
    ]
    for raw in requests:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
            sock.sendall(raw)
            answer = sock.recv(65536)
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:300]
        assert b"Traceback" not in answer
    assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200
