"""Unit tests of the shared OAuth pieces: token requests, error classes, names, times, PKCE."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs

import httpx
import pytest

from auth._oauth import Pkce, TokenError, jwt_claims, parse_time, post_token, rfc3339, seconds
from auth.errors import AuthFlowError
from auth.records import record_name


def _client(status: int, body: bytes, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_form_token_request_is_encoded_by_grant() -> None:
    seen: list[httpx.Request] = []
    async with _client(200, b'{"access_token": "a"}', seen) as client:
        answer = await post_token(
            client, "https://t/token", "refresh_token", what="x", refresh_token="r", client_id="c"
        )
    assert answer == {"access_token": "a"}
    form = parse_qs(seen[0].content.decode())
    assert form == {"grant_type": ["refresh_token"], "refresh_token": ["r"], "client_id": ["c"]}
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"


async def test_a_json_token_request() -> None:
    seen: list[httpx.Request] = []
    async with _client(200, b'{"access_token": "a"}', seen) as client:
        await post_token(
            client, "https://t/token", "refresh_token", what="x", json_body=True, refresh_token="r"
        )
    assert json.loads(seen[0].content) == {"grant_type": "refresh_token", "refresh_token": "r"}


@pytest.mark.parametrize(
    ("status", "body", "error", "permanent"),
    [
        (400, b'{"error": "invalid_grant"}', "invalid_grant", True),
        (401, b'{"error": "invalid_client"}', "invalid_client", True),
        (401, b"", None, True),
        (200, b'{"error": "authorization_pending"}', "authorization_pending", False),
        (429, b'{"error": "slow_down"}', "slow_down", False),
        (503, b"<html>down</html>", None, False),
        (400, b'{"error": {"message": "odd"}}', None, False),
    ],
)
async def test_error_answers_raise_token_errors(
    status: int, body: bytes, error: str | None, permanent: bool
) -> None:
    async with _client(status, body, []) as client:
        with pytest.raises(TokenError) as caught:
            await post_token(client, "https://t/token", "refresh_token", what="the refresh")
    assert caught.value.error == error
    assert caught.value.permanent is permanent
    assert caught.value.message.startswith("the refresh failed")


async def test_a_success_without_json_is_an_error() -> None:
    async with _client(200, b"<html>challenge</html>", []) as client:
        with pytest.raises(TokenError, match="not JSON"):
            await post_token(client, "https://t/token", "refresh_token", what="x")


def test_pkce_is_s256_of_the_verifier() -> None:
    pair = Pkce.new()
    digest = hashlib.sha256(pair.verifier.encode()).digest()
    assert pair.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pair.verifier) <= 128
    assert Pkce.new().verifier != pair.verifier


def test_record_names_are_store_safe() -> None:
    assert record_name("codex", "a@b.com", "plus") == "codex-a@b.com-plus.json"
    assert record_name("qwen", "we ird/../name") == "qwen-we_ird_._name.json"
    assert record_name("gemini", "a@b.com", "") == "gemini-a@b.com.json"
    with pytest.raises(AuthFlowError):
        record_name("")


def test_times_and_claims() -> None:
    assert rfc3339(1893553445) == "2030-01-02T03:04:05Z"
    assert parse_time(rfc3339(1893553445)) == 1893553445
    assert parse_time("1893553445") == 1893553445
    assert parse_time(True) is None
    payload = base64.urlsafe_b64encode(b'{"email": "a@b"}').rstrip(b"=").decode()
    assert jwt_claims(f"h.{payload}.s") == {"email": "a@b"}
    assert jwt_claims("opaque") == {}
    assert jwt_claims("a.!!!.c") == {}
    assert seconds("5", 1) == 5
    assert seconds("soon", 1) == 1
    assert seconds(-3, 1) == 1
