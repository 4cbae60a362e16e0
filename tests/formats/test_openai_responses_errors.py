"""OpenAI Responses codec, error bodies: the OpenAI envelope, Codex's shapes and usage limits."""

from __future__ import annotations

import json

import pytest

from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.openai_responses import CODEC
from aiproxyapi.formats.openai_responses.errors import decode_error


def fields(info: ErrorInfo) -> tuple[int, str, str, str | None, float | None]:
    return info.status, info.message, info.kind, info.code, info.retry_after


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            404,
            b'{"error":{"message":"Previous response with id \'resp_x\' not found.","type":"invalid_request_error","param":"previous_response_id","code":"previous_response_not_found"}}',
            (
                404,
                "Previous response with id 'resp_x' not found.",
                "invalid_request_error",
                "previous_response_not_found",
                None,
            ),
        ),
        (
            429,
            b'{"error":{"message":"Rate limit reached for gpt-5. Please try again in 1.5s.","type":"tokens","code":"rate_limit_exceeded"}}',
            (
                429,
                "Rate limit reached for gpt-5. Please try again in 1.5s.",
                "tokens",
                "rate_limit_exceeded",
                1.5,
            ),
        ),
        (
            429,
            b'{"error":{"message":"Please try again in 250ms","type":"requests","code":"rate_limit_exceeded"}}',
            (429, "Please try again in 250ms", "requests", "rate_limit_exceeded", 0.25),
        ),
        (
            429,
            b'{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":1761000000,"resets_in_seconds":3600}}',
            (
                429,
                "The usage limit has been reached",
                "usage_limit_reached",
                "usage_limit_reached",
                3600.0,
            ),
        ),
        (
            400,
            b'{"detail":"Stream must be set to true"}',
            (400, "Stream must be set to true", "invalid_request_error", None, None),
        ),
        (
            400,
            b'{"detail":"Unsupported parameter: max_output_tokens"}',
            (400, "Unsupported parameter: max_output_tokens", "invalid_request_error", None, None),
        ),
        (
            422,
            b'{"detail":[{"loc":["body","input"],"msg":"field required","type":"missing"},{"msg":"bad store"}]}',
            (422, "field required; bad store", "invalid_request_error", None, None),
        ),
        (
            401,
            b'{"detail":{"message":"Unauthorized"}}',
            (401, "Unauthorized", "authentication_error", None, None),
        ),
        (
            503,
            b'{"detail":"Selected model is at capacity. Please try a different model."}',
            (
                503,
                "Selected model is at capacity. Please try a different model.",
                "server_error",
                None,
                None,
            ),
        ),
        (502, b"", (502, "the upstream answered HTTP 502", "server_error", None, None)),
        (
            502,
            b"<html>Authorization: Bearer sk-secret</html>",
            (502, "the upstream answered HTTP 502", "server_error", None, None),
        ),
        (500, b'{"error":"boom"}', (500, "boom", "server_error", None, None)),
        (
            403,
            b'{"error":{"message":"Country, region, or territory not supported","code":"unsupported_country_region_territory"}}',
            (
                403,
                "Country, region, or territory not supported",
                "permission_error",
                "unsupported_country_region_territory",
                None,
            ),
        ),
    ],
)
def test_decode_error_reads_every_upstream_shape(
    status: int, body: bytes, expected: tuple[int, str, str, str | None, float | None]
) -> None:
    assert fields(CODEC.decode_error(status, body)) == expected


def test_a_usage_limit_with_only_a_reset_time_waits_until_then() -> None:
    body = b'{"error":{"type":"usage_limit_reached","message":"limit","resets_at":1761003600}}'
    assert decode_error(429, body, now=1761000000.0).retry_after == 3600.0
    assert decode_error(429, body, now=1761009999.0).retry_after == 0.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ErrorInfo(400, "bad input", "invalid_request_error", "invalid_value"),
            {
                "message": "bad input",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_value",
            },
        ),
        (
            ErrorInfo(429, "slow down"),
            {"message": "slow down", "type": "rate_limit_exceeded", "param": None, "code": None},
        ),
        (
            ErrorInfo(503, "busy"),
            {"message": "busy", "type": "server_error", "param": None, "code": None},
        ),
        (
            ErrorInfo(401, "who?"),
            {"message": "who?", "type": "authentication_error", "param": None, "code": None},
        ),
    ],
)
def test_encode_error_writes_the_openai_envelope(
    error: ErrorInfo, expected: dict[str, object]
) -> None:
    assert json.loads(CODEC.encode_error(error)) == {"error": expected}


def test_an_encoded_error_decodes_to_itself() -> None:
    error = ErrorInfo(429, "Rate limited", "rate_limit_error", "rate_limit_exceeded")
    assert fields(CODEC.decode_error(429, CODEC.encode_error(error))) == fields(error)
