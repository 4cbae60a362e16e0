"""Key policies through the real gateway: allow-lists, expiry, rpm and tpm, in every dialect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.gateway_requests import CLIENT_DIALECTS, gateway_request
from tests.support.replies import Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

MODELS = ["m1", "gpt-4o", "gpt-4o-mini", "o1", "claude-haiku"]
ALLOWED = "sk-policy-allowed-7f3a"
EXPIRED = "sk-policy-expired-91c2"
FUTURE = "sk-policy-future-0d4e"
RPM = {d: f"sk-policy-rpm-{d}-5a" for d in ("openai", "claude", "gemini", "openai-responses")}
TPM = "sk-policy-tpm-33b1"
BURST = "sk-policy-burst-6c70"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(
        default=Reply.ok("fine", usage=Usage(prompt_tokens=9, completion_tokens=12))
    ) as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    keys = [
        CLIENT_KEY,
        {"key": ALLOWED, "name": "narrow", "models": ["gpt-4o*", "claude-*"]},
        {"key": EXPIRED, "expires": "2020-01-01"},
        {"key": FUTURE, "expires": "2999-01-01T00:00:00Z"},
        *({"key": key, "rpm": 2} for key in RPM.values()),
        {"key": TPM, "tpm": 30},
        {"key": BURST, "rpm": 10},
    ]
    config = gateway_config(openai_entry("up", upstream.base_url, ["sk-up"], MODELS), api_keys=keys)
    home: Path = tmp_path_factory.mktemp("policies")
    with GatewayProcess(config, tmp_path=home) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _fresh(upstream: FakeUpstream) -> None:
    upstream.clear()


def chat(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return tracked(
        openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=15)
    )


def claude(gw: GatewayProcess, key: str) -> anthropic.Anthropic:
    return tracked(
        anthropic.Anthropic(base_url=gw.base_url, api_key=key, max_retries=0, timeout=15)
    )


def gemini(gw: GatewayProcess, key: str) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=gw.base_url,
        api_version="v1beta",
        timeout=15_000,
        retry_options=gtypes.HttpRetryOptions(attempts=1),
    )
    return tracked(genai.Client(api_key=key, http_options=options))


HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "claude-haiku"])
def test_allow_list_wildcards_let_matching_models_through(
    gateway: GatewayProcess, model: str
) -> None:
    answer = chat(gateway, ALLOWED).chat.completions.create(model=model, messages=HI)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "fine"


def test_a_model_off_the_allow_list_is_403_in_each_dialect(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(gateway, ALLOWED).chat.completions.create(model="o1", messages=HI)  # type: ignore[arg-type]
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_allowed"
    assert error["param"] == "model"
    assert "gpt-4o*" in error["message"]

    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        claude(gateway, ALLOWED).messages.create(model="m1", max_tokens=32, messages=HI)  # type: ignore[arg-type]
    assert denied.value.status_code == 403
    assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]

    with pytest.raises(genai_errors.ClientError) as gerr:
        gemini(gateway, ALLOWED).models.generate_content(model="o1", contents="hi")
    assert gerr.value.code == 403
    assert gerr.value.status == "PERMISSION_DENIED"

    # The prefix alone is no match: the pattern covers the whole name.
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "xgpt-4o", "messages": HI},
        headers={"authorization": f"Bearer {ALLOWED}"},
    )
    assert response.status_code == 403
    counted = httpx.post(
        f"{gateway.base_url}/v1/messages/count_tokens",
        json={"model": "o1", "messages": HI},
        headers={"x-api-key": ALLOWED, "anthropic-version": "2023-06-01"},
    )
    assert counted.status_code == 403
    assert upstream.requests == []


def test_an_expired_key_is_401_and_a_future_expiry_works(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.AuthenticationError) as expired:
        chat(gateway, EXPIRED).chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    assert isinstance(expired.value.body, dict)
    assert expired.value.body["code"] == "expired_api_key"
    assert EXPIRED not in str(expired.value.body)
    with pytest.raises(anthropic.AuthenticationError):
        claude(gateway, EXPIRED).messages.create(model="m1", max_tokens=32, messages=HI)  # type: ignore[arg-type]
    assert upstream.requests == []
    answer = chat(gateway, FUTURE).chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "fine"


def _retry_after(headers: httpx.Headers) -> int:
    value = int(headers["retry-after"])
    assert 1 <= value <= 60
    return value


def test_rpm_over_the_limit_is_429_with_retry_after_in_each_dialect(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    client = chat(gateway, RPM["openai"])
    for _ in range(2):
        client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    _retry_after(limited.value.response.headers)
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["code"] == "rate_limit_exceeded"

    messages = claude(gateway, RPM["claude"])
    for _ in range(2):
        messages.messages.create(model="m1", max_tokens=32, messages=HI)  # type: ignore[arg-type]
    with pytest.raises(anthropic.RateLimitError) as rate:
        messages.messages.create(model="m1", max_tokens=32, messages=HI)  # type: ignore[arg-type]
    _retry_after(rate.value.response.headers)
    assert rate.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]

    models = gemini(gateway, RPM["gemini"]).models
    for _ in range(2):
        models.generate_content(model="m1", contents="hi")
    with pytest.raises(genai_errors.ClientError) as exhausted:
        models.generate_content(model="m1", contents="hi")
    assert exhausted.value.code == 429
    assert exhausted.value.status == "RESOURCE_EXHAUSTED"

    responses = gateway_request(gateway.base_url, "openai-responses", key=RPM["openai-responses"])
    seen = [
        httpx.post(responses.url, json=responses.body, headers=responses.headers) for _ in range(3)
    ]
    assert [r.status_code for r in seen] == [200, 200, 429]
    _retry_after(seen[-1].headers)
    assert seen[-1].json()["error"]["code"] == "rate_limit_exceeded"
    assert len(upstream.requests) == 8  # the refused ones never left the gateway


def test_tpm_counts_the_tokens_of_finished_requests(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    # Each answer uses 21 tokens: the second request still finds 21 < 30, the third 42.
    client = chat(gateway, TPM)
    client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    _retry_after(limited.value.response.headers)
    assert "tokens per minute" in limited.value.message
    assert len(upstream.requests) == 2


@pytest.mark.parametrize("dialect", CLIENT_DIALECTS)
def test_plain_keys_have_no_limits(gateway: GatewayProcess, dialect: str) -> None:
    request = gateway_request(gateway.base_url, dialect, key=CLIENT_KEY)  # type: ignore[arg-type]
    statuses = {
        httpx.post(request.url, json=request.body, headers=request.headers).status_code
        for _ in range(4)
    }
    assert statuses == {200}


def test_model_lists_show_only_allowed_models(gateway: GatewayProcess) -> None:
    listed = {m.id for m in chat(gateway, ALLOWED).models.list()}
    assert listed == {"gpt-4o", "gpt-4o-mini", "claude-haiku"}
    everything = {m.id for m in chat(gateway, CLIENT_KEY).models.list()}
    assert everything == set(MODELS)
    gemini_list = httpx.get(
        f"{gateway.base_url}/v1beta/models", headers={"x-goog-api-key": ALLOWED}
    )
    assert {m["name"] for m in gemini_list.json()["models"]} == {
        "models/gpt-4o",
        "models/gpt-4o-mini",
        "models/claude-haiku",
    }


def test_fifty_simultaneous_requests_admit_exactly_the_rpm(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    async def burst() -> list[tuple[int, int]]:
        client = openai.AsyncOpenAI(
            base_url=f"{gateway.base_url}/v1", api_key=BURST, max_retries=0, timeout=30
        )

        async def one() -> tuple[int, int]:
            """The status and the Retry-After seconds (0 without one)."""
            try:
                await client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
            except openai.RateLimitError as exc:
                return 429, int(exc.response.headers["retry-after"])
            return 200, 0

        try:
            return await asyncio.gather(*(one() for _ in range(50)))
        finally:
            await client.close()

    answers = asyncio.run(burst())
    statuses = [status for status, _retry in answers]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 40
    assert all(1 <= retry <= 60 for status, retry in answers if status == 429)
    assert len(upstream.requests) == 10
