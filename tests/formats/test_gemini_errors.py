"""Gemini codec, errors: the google.rpc.Status envelope both ways and its retry hints (§5.6)."""

from __future__ import annotations

import json

import msgspec
import pytest

from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.gemini import CODEC

QUOTA = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaMetric": "generate_content_free_tier_requests"}],
            },
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.84s"},
        ],
    }
}
BAD_KEY = {
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    }
}
CODE_ASSIST = {
    "error": {
        "code": 429,
        "message": "Resource exhausted. Please try again later.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "metadata": {"quotaResetDelay": "1m2.5s"},
            }
        ],
    }
}


def info(error: ErrorInfo) -> tuple[object, ...]:
    return (error.status, error.message, error.kind, error.code, error.retry_after)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, QUOTA, (429, "You exceeded your current quota.", "RESOURCE_EXHAUSTED", None, 0.84)),
        (400, BAD_KEY, (400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", "API_KEY_INVALID", None)),
        (429, [CODE_ASSIST], (429, "Resource exhausted. Please try again later.", "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED", 62.5)),
        (429, {"error": {"code": 429, "message": "Quota will reset after 30s.", "status": "RESOURCE_EXHAUSTED"}}, (429, "Quota will reset after 30s.", "RESOURCE_EXHAUSTED", None, 30.0)),
        (503, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}, (503, "The model is overloaded. Please try again later.", "UNAVAILABLE", None, None)),
        (404, {"error": {"code": 404, "status": "NOT_FOUND"}}, (404, "upstream error (HTTP 404)", "NOT_FOUND", None, None)),
    ],
)  # fmt: skip
def test_error_bodies_decode_with_their_retry_hints(
    status: int, body: object, expected: tuple[object, ...]
) -> None:
    assert info(CODEC.decode_error(status, json.dumps(body).encode())) == expected


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        (502, b"<html>Bad Gateway</html>", (502, "<html>Bad Gateway</html>", "UNAVAILABLE", None, None)),
        (500, b"", (500, "upstream error (HTTP 500)", "INTERNAL", None, None)),
        (400, b'{"error": "plain text"}', (400, "plain text", "INVALID_ARGUMENT", None, None)),
        (429, b'{"error": {"message": "slow", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}}', (429, "slow", "RESOURCE_EXHAUSTED", None, None)),
    ],
)  # fmt: skip
def test_unreadable_error_bodies_become_generic_errors(
    status: int, raw: bytes, expected: tuple[object, ...]
) -> None:
    assert info(CODEC.decode_error(status, raw)) == expected


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (ErrorInfo(400, "bad field", "invalid_request_error"), {"code": 400, "message": "bad field", "status": "INVALID_ARGUMENT"}),
        (ErrorInfo(401, "no key", "authentication_error", "invalid_api_key"), {"code": 401, "message": "no key", "status": "UNAUTHENTICATED"}),
        (ErrorInfo(403, "forbidden"), {"code": 403, "message": "forbidden", "status": "PERMISSION_DENIED"}),
        (ErrorInfo(404, "no model"), {"code": 404, "message": "no model", "status": "NOT_FOUND"}),
        (ErrorInfo(500, "oops"), {"code": 500, "message": "oops", "status": "INTERNAL"}),
        (ErrorInfo(529, "overloaded", "overloaded_error"), {"code": 529, "message": "overloaded", "status": "UNAVAILABLE"}),
        (ErrorInfo(504, "slow"), {"code": 504, "message": "slow", "status": "DEADLINE_EXCEEDED"}),
        (ErrorInfo(400, "billing", "FAILED_PRECONDITION"), {"code": 400, "message": "billing", "status": "FAILED_PRECONDITION"}),
        (
            ErrorInfo(429, "slow down", "rate_limit_error", retry_after=37.0),
            {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED",
             "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]},
        ),
        (
            ErrorInfo(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID"),
            {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",
             "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]},
        ),
    ],
)  # fmt: skip
def test_errors_encode_to_the_google_envelope(error: ErrorInfo, body: dict[str, object]) -> None:
    assert msgspec.json.decode(CODEC.encode_error(error)) == {"error": body}


def test_a_fractional_retry_delay_round_trips() -> None:
    encoded = CODEC.encode_error(ErrorInfo(429, "quota", retry_after=0.84))
    assert b'"retryDelay":"0.84s"' in encoded
    assert CODEC.decode_error(429, encoded).retry_after == 0.84


def test_the_in_stream_error_is_a_data_line() -> None:
    assert CODEC.encode_stream_error(ErrorInfo(503, "overloaded")) == (
        b'data: {"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}\n\n'
    )
