"""Errors that teach, through the real gateway: field path, expected type, a valid example."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

BEARER = {"authorization": f"Bearer {CLIENT_KEY}"}
CLAUDE = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
GOOGLE = {"x-goog-api-key": CLIENT_KEY}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = gateway_config(openai_entry("up", upstream.base_url, ["sk-up"], ["m1"]))
    home: Path = tmp_path_factory.mktemp("teach")
    with GatewayProcess(config, tmp_path=home) as gw:
        yield gw


def example_of(message: str) -> Any:
    """The example request a teaching message ends with, parsed (it must be valid JSON)."""
    marker = "A minimal valid request: "
    assert marker in message
    return json.loads(message.split(marker, 1)[1])


def test_openai_error_names_param_type_and_example(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    client = tracked(
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    )
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="m1", messages="hello")  # type: ignore[arg-type]
    body = bad.value.body
    assert isinstance(body, dict)
    assert body["param"] == "messages"
    assert body["type"] == "invalid_request_error"
    assert "Expected `messages`: an array of message objects" in body["message"]
    example = example_of(body["message"])
    assert example["messages"][0]["role"] == "user"
    # The example is a request the gateway really serves.
    served = httpx.post(
        f"{gateway.base_url}/v1/chat/completions", json={**example, "model": "m1"}, headers=BEARER
    )
    assert served.status_code == 200


def test_openai_nested_field_path(gateway: GatewayProcess) -> None:
    body = {
        "model": "m1",
        "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": 5}],
    }
    response = httpx.post(f"{gateway.base_url}/v1/chat/completions", json=body, headers=BEARER)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "messages[1].content"
    assert (
        "Expected `messages[1].content`: a string or an array of content parts" in error["message"]
    )


def test_anthropic_error_is_an_invalid_request_error_with_the_path(gateway: GatewayProcess) -> None:
    client = tracked(
        anthropic.Anthropic(base_url=gateway.base_url, api_key=CLIENT_KEY, max_retries=0)
    )
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(
            model="m1",
            max_tokens=64,
            extra_body={"temperature": "hot"},
            messages=[{"role": "user", "content": "x"}],
        )
    error = bad.value.body["error"]  # type: ignore[index]
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("temperature: ")
    assert "Expected `temperature`: a number" in error["message"]
    assert example_of(error["message"])["max_tokens"] == 1024

    missing = httpx.post(f"{gateway.base_url}/v1/messages", json={"model": "m1"}, headers=CLAUDE)
    assert missing.status_code == 400
    assert missing.json()["error"]["message"].startswith("messages: ")


def test_gemini_error_body(gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{gateway.base_url}/v1beta/models/m1:generateContent",
        json={"contents": "hello"},
        headers=GOOGLE,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "Expected `contents`: an array of Content objects" in error["message"]
    violations = [d for d in error["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert violations[0]["fieldViolations"][0]["field"] == "contents"
    assert example_of(error["message"]) == {
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}]
    }


@pytest.mark.parametrize(
    ("path", "headers", "body", "param"),
    [
        ("/v1/responses", BEARER, {"model": "m1", "input": 3}, "input"),
        ("/v1/responses", BEARER, {"model": "m1", "input": "x", "stream": "yes"}, "stream"),
        ("/v1/completions", BEARER, {"model": "m1"}, "prompt"),
        ("/v1/embeddings", BEARER, {"model": "m1"}, "input"),
        ("/v1/messages/count_tokens", CLAUDE, {"model": 1, "messages": []}, "model"),
        ("/v1beta/models/m1:countTokens", GOOGLE, {"contents": {}}, "contents"),
        ("/v1beta/models/m1:streamGenerateContent", GOOGLE, {"tools": {}}, "contents"),
    ],
)
def test_every_client_route_teaches(
    gateway: GatewayProcess,
    upstream: FakeUpstream,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
    param: str,
) -> None:
    response = httpx.post(f"{gateway.base_url}{path}", json=body, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    message = error["message"]
    assert param in message
    example_of(message)
    if path.startswith("/v1beta"):
        assert error["status"] == "INVALID_ARGUMENT"
    elif path.startswith("/v1/messages"):
        assert error["type"] == "invalid_request_error"
    else:
        assert error["param"] == param
    assert "Traceback" not in response.text


def test_a_body_that_is_not_an_object_teaches_in_each_dialect(gateway: GatewayProcess) -> None:
    for path, headers in (
        ("/v1/chat/completions", BEARER),
        ("/v1/messages", CLAUDE),
        ("/v1beta/models/m1:generateContent", GOOGLE),
    ):
        response = httpx.post(
            f"{gateway.base_url}{path}",
            content=b"[1]",
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 400
        message = response.json()["error"]["message"]
        assert "Expected the request body: a JSON object" in message
        example_of(message)
