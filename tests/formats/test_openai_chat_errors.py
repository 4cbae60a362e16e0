"""OpenAI Chat codec, errors: the envelope read from upstreams and written for clients."""

from __future__ import annotations

import json

import pytest

from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.openai_chat import CODEC


@pytest.mark.parametrize(
    ("status", "body", "message", "kind", "code"),
    [
        (
            429,
            b'{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}',
            "Rate limit reached",
            "tokens",
            "rate_limit_exceeded",
        ),
        (
            400,
            b'{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}',
            "too long",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (
            401,
            b'{"error":{"message":"bad key","code":401}}',
            "bad key",
            "authentication_error",
            "401",
        ),
        (500, b'{"error":"upstream exploded"}', "upstream exploded", "server_error", None),
        (403, b'[{"error":{"message":"no region","type":"x"}}]', "no region", "x", None),
        (422, b'{"detail":"field required"}', "field required", "invalid_request_error", None),
        (404, b'{"message":"no such model"}', "no such model", "invalid_request_error", None),
        (
            502,
            b"<html>Bad Gateway sk-secret</html>",
            "the upstream answered HTTP 502",
            "server_error",
            None,
        ),
        (503, b"", "the upstream answered HTTP 503", "server_error", None),
        (
            429,
            b'{"error":{"message":null,"type":null}}',
            "the upstream answered HTTP 429",
            "rate_limit_exceeded",
            None,
        ),
    ],
)
def test_decode_error_reads_the_envelope_and_its_variants(
    status: int, body: bytes, message: str, kind: str, code: str | None
) -> None:
    info = CODEC.decode_error(status, body)
    assert (info.status, info.message, info.kind, info.code, info.retry_after) == (
        status,
        message,
        kind,
        code,
        None,
    )


def test_encode_error_writes_the_envelope() -> None:
    body = CODEC.encode_error(
        ErrorInfo(429, "slow down", "rate_limit_error", "rate_limit_exceeded")
    )
    assert json.loads(body) == {
        "error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (404, "invalid_request_error"),
        (429, "rate_limit_exceeded"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_an_error_without_a_type_gets_the_usual_one_for_its_status(status: int, kind: str) -> None:
    assert json.loads(CODEC.encode_error(ErrorInfo(status, "x")))["error"]["type"] == kind


def test_the_stream_error_is_one_data_event_the_sdk_raises() -> None:
    frame = CODEC.encode_stream_error(ErrorInfo(502, "upstream broke", "upstream_error"))
    assert frame == (
        b'data: {"error":{"message":"upstream broke","type":"upstream_error","param":null,"code":null}}\n\n'
    )


def test_an_upstream_error_reencoded_for_a_chat_client_keeps_its_meaning() -> None:
    body = b'{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}'
    assert json.loads(CODEC.encode_error(CODEC.decode_error(429, body))) == json.loads(body) | {
        "error": {
            "message": "quota",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
