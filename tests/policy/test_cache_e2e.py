"""The response cache through the real gateway: hits make no upstream call, bytes are identical."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess
from tests.support.gateway_requests import CLIENT_DIALECTS, gateway_request
from tests.support.replies import Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

OTHER_KEY = "sk-cache-other-key-41d0"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    reply = Reply.ok(
        "cached words here", chunks=3, usage=Usage(prompt_tokens=5, completion_tokens=3)
    )
    with FakeUpstream(default=reply) as up:
        yield up


def _config(upstream: FakeUpstream, **cache: object) -> str:
    return gateway_config(
        openai_entry("up", upstream.base_url, ["sk-up"], ["m1", "m2"]),
        api_keys=[CLIENT_KEY, OTHER_KEY],
        cache={"enable": True, **cache},
    )


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    home: Path = tmp_path_factory.mktemp("cache")
    with GatewayProcess(_config(upstream), tmp_path=home) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _fresh(upstream: FakeUpstream) -> None:
    upstream.clear(scripts=True)


def _pair(
    gw: GatewayProcess, dialect: str, *, stream: bool
) -> tuple[httpx.Request, dict[str, object], dict[str, str]]:
    request = gateway_request(gw.base_url, dialect, key=CLIENT_KEY, stream=stream)  # type: ignore[arg-type]
    body: dict[str, object] = dict(request.body)
    if dialect == "gemini":
        body["generationConfig"] = {"seed": secrets.randbelow(10**6)}
    else:
        body["temperature"] = round(secrets.randbelow(1000) / 1000, 3)
    return httpx.Request("POST", request.url), body, request.headers


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("dialect", CLIENT_DIALECTS)
def test_a_repeated_request_is_a_hit_with_identical_bytes_and_no_upstream_call(
    gateway: GatewayProcess, upstream: FakeUpstream, dialect: str, stream: bool
) -> None:
    target, body, headers = _pair(gateway, dialect, stream=stream)
    first = httpx.post(str(target.url), json=body, headers=headers, timeout=15)
    assert first.status_code == 200
    assert first.headers["x-aiproxyapi-cache"] == "miss"
    assert len(upstream.requests) == 1
    second = httpx.post(str(target.url), json=body, headers=headers, timeout=15)
    assert second.status_code == 200
    assert second.headers["x-aiproxyapi-cache"] == "hit"
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert (second.headers["x-aiproxyapi-cost-usd"], second.headers["x-aiproxyapi-pricing"]) == (
        "0",
        "cache",
    )
    assert len(upstream.requests) == 1
    if stream:
        assert first.headers["content-type"].startswith("text/event-stream")
        assert b"cached" in second.content


def test_the_sdk_reads_a_replayed_stream(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    client = tracked(
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    )
    messages = [{"role": "user", "content": "replay me"}]
    texts = []
    for _ in range(2):
        chunks = list(client.chat.completions.create(model="m1", messages=messages, stream=True))  # type: ignore[call-overload]
        texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    assert texts == ["cached words here"] * 2
    assert len(upstream.requests) == 1


def test_no_cache_goes_upstream_and_no_store_leaves_no_entry(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    target, body, headers = _pair(gateway, "openai", stream=False)
    url = str(target.url)
    assert httpx.post(url, json=body, headers=headers).headers["x-aiproxyapi-cache"] == "miss"
    bypass = httpx.post(url, json=body, headers={**headers, "cache-control": "no-cache"})
    assert bypass.status_code == 200
    assert bypass.headers["x-aiproxyapi-cache"] == "miss"
    assert len(upstream.requests) == 2
    assert httpx.post(url, json=body, headers=headers).headers["x-aiproxyapi-cache"] == "hit"
    assert len(upstream.requests) == 2

    target, body, headers = _pair(gateway, "claude", stream=False)
    url = str(target.url)
    httpx.post(url, json=body, headers={**headers, "cache-control": "no-store"})
    again = httpx.post(url, json=body, headers=headers)
    assert again.headers["x-aiproxyapi-cache"] == "miss"
    assert len(upstream.requests) == 4


def test_entries_are_per_key_and_per_model(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    target, body, headers = _pair(gateway, "openai", stream=False)
    url = str(target.url)
    httpx.post(url, json=body, headers=headers)
    other = httpx.post(url, json=body, headers={"authorization": f"Bearer {OTHER_KEY}"})
    assert other.headers["x-aiproxyapi-cache"] == "miss"
    moved = httpx.post(url, json={**body, "model": "m2"}, headers=headers)
    assert moved.headers["x-aiproxyapi-cache"] == "miss"
    assert len(upstream.requests) == 3


def test_errors_and_broken_streams_are_not_cached(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    target, body, headers = _pair(gateway, "openai", stream=False)
    url = str(target.url)
    upstream.script(Reply.error(400))
    assert httpx.post(url, json=body, headers=headers).status_code == 400
    assert httpx.post(url, json=body, headers=headers).headers["x-aiproxyapi-cache"] == "miss"

    target, body, headers = _pair(gateway, "claude", stream=True)
    url = str(target.url)
    upstream.script(Reply.reset(3, text="one two three four five"))
    broken = httpx.post(url, json=body, headers=headers, timeout=15)
    assert b"error" in broken.content
    healed = httpx.post(url, json=body, headers=headers, timeout=15)
    assert healed.headers["x-aiproxyapi-cache"] == "miss"
    assert b"message_stop" in healed.content
    assert len(upstream.requests) == 4


def test_a_hit_is_counted_in_usage_without_tokens(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    target, body, headers = _pair(gateway, "openai", stream=False)
    for _ in range(2):
        httpx.post(str(target.url), json=body, headers=headers)
    recent = httpx.get(f"{gateway.base_url}/usage").json()["usage"]["recent"]
    miss, hit = recent[-2], recent[-1]
    assert (miss["cache_hit"], miss["input_tokens"]) == (False, 5)
    assert hit["cache_hit"] is True
    assert (hit["input_tokens"], hit["output_tokens"], hit["credential"]) == (0, 0, "")


def test_the_cache_is_off_unless_enabled(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(gateway_config(openai_entry("up", upstream.base_url, ["sk-up"])))
    request = gateway_request(gw.base_url, "openai", key=CLIENT_KEY)
    for _ in range(2):
        answer = httpx.post(request.url, json=request.body, headers=request.headers)
        assert "x-aiproxyapi-cache" not in answer.headers
    assert len(upstream.requests) == 2


def test_redis_cache_is_shared_by_two_gateways(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    prefix = f"aiproxyapi-test:{secrets.token_hex(6)}:"
    config = _config(upstream, **{"redis-url": REDIS_URL, "key-prefix": prefix, "ttl-seconds": 60})
    first, second = gateway_factory(config), gateway_factory(config)
    for dialect, stream in (("openai", False), ("gemini", True)):
        request = gateway_request(first.base_url, dialect, key=CLIENT_KEY, stream=stream)  # type: ignore[arg-type]
        filled = httpx.post(request.url, json=request.body, headers=request.headers, timeout=15)
        assert filled.headers["x-aiproxyapi-cache"] == "miss"
        elsewhere = request.url.replace(first.base_url, second.base_url)
        served = httpx.post(elsewhere, json=request.body, headers=request.headers, timeout=15)
        assert served.headers["x-aiproxyapi-cache"] == "hit"
        assert served.content == filled.content
    assert len(upstream.requests) == 2
    _drop_keys(prefix)


def _drop_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        assert keys  # the answers really were in Redis
        client.delete(*keys)
    finally:
        client.close()


def test_a_gemini_json_array_stream_is_replayed_as_it_was(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    url = f"{gateway.base_url}/v1beta/models/m1:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "array framing"}]}]}
    headers = {"x-goog-api-key": CLIENT_KEY}
    first = httpx.post(url, json=body, headers=headers, timeout=15)
    second = httpx.post(url, json=body, headers=headers, timeout=15)
    assert first.headers["content-type"].startswith("application/json")
    assert first.content.lstrip().startswith(b"[")
    assert (first.headers["x-aiproxyapi-cache"], second.headers["x-aiproxyapi-cache"]) == (
        "miss",
        "hit",
    )
    assert second.content == first.content
    assert len(upstream.requests) == 1


def test_a_reload_turns_the_cache_off_and_on(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(_config(upstream))
    request = gateway_request(gw.base_url, "openai", key=CLIENT_KEY)

    def cache_header() -> str | None:
        answer = httpx.post(request.url, json=request.body, headers=request.headers)
        assert answer.status_code == 200
        return answer.headers.get("x-aiproxyapi-cache")

    assert [cache_header(), cache_header()] == ["miss", "hit"]
    gw.rewrite_config(gateway_config(openai_entry("up", upstream.base_url, ["sk-up"], ["m1"])))
    assert upstream.wait_until(lambda: cache_header() is None, timeout=10)
    gw.rewrite_config(_config(upstream))
    assert upstream.wait_until(lambda: cache_header() == "miss", timeout=10)
    assert cache_header() == "hit"
