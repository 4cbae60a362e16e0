"""The credential pool as the fake upstream sees it: rotation, cooldown, failover, retry."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "hello"}]
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def sdk(base_url: str) -> openai.OpenAI:
    return tracked(
        openai.OpenAI(base_url=f"{base_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    )


def keys_used(upstream: FakeUpstream) -> list[str | None]:
    return [request.key for request in upstream.requests]


def test_round_robin_over_two_keys(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    client = sdk(gateway.base_url)
    for _ in range(6):
        client.chat.completions.create(model="m1", messages=MESSAGES)
    assert keys_used(fake_upstream) == ["sk-a", "sk-b"] * 3


def test_429_fails_over_cools_and_recovers(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "2"}), key="sk-a")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    client = sdk(gateway.base_url)
    first = client.chat.completions.create(model="m1", messages=MESSAGES)
    assert (
        first.choices[0].message.content
        == "hello from key sk-b"[-len(first.choices[0].message.content or "") :]
    )
    assert keys_used(fake_upstream) == ["sk-a", "sk-b"]
    # While sk-a rests every request goes to sk-b.
    for _ in range(3):
        client.chat.completions.create(model="m1", messages=MESSAGES)
    assert keys_used(fake_upstream)[2:] == ["sk-b"] * 3
    time.sleep(2.3)
    for _ in range(2):
        client.chat.completions.create(model="m1", messages=MESSAGES)
    assert "sk-a" in keys_used(fake_upstream)[5:]


def test_everything_cooling_answers_429_with_retry_after(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "120"}), key="sk-a")
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "90"}), key="sk-b")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    client = sdk(gateway.base_url)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m1", messages=MESSAGES)
    assert caught.value.code == "model_cooldown"
    assert 85 <= int(caught.value.response.headers["retry-after"]) <= 90
    calls = len(fake_upstream.requests)
    # A second request meets the cooldown without touching the upstream at all.
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": MESSAGES},
        headers=AUTH,
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "model_cooldown"
    assert int(response.headers["retry-after"]) > 0
    assert len(fake_upstream.requests) == calls


def test_500_fails_over_to_the_next_key(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.error(500), key="sk-a")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    answer = sdk(gateway.base_url).chat.completions.create(model="m1", messages=MESSAGES)
    assert answer.choices[0].message.content
    assert keys_used(fake_upstream) == ["sk-a", "sk-b"]


def test_500_on_the_only_key_is_retried_after_its_cooldown(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.error(503), key="sk-a")
    gateway = gateway_factory(
        gateway_config(
            openai_entry("up", fake_upstream.base_url, ["sk-a"]),
            **{"transient-error-cooldown-seconds": 1, "request-retry": 1},
        )
    )
    started = time.monotonic()
    answer = sdk(gateway.base_url).chat.completions.create(model="m1", messages=MESSAGES)
    assert answer.choices[0].message.content
    assert keys_used(fake_upstream) == ["sk-a", "sk-a"]
    assert time.monotonic() - started >= 0.9


@pytest.mark.invariant(12)
def test_client_error_is_returned_as_is_and_cools_nothing(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    body = {
        "error": {
            "message": "bad temperature",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": None,
        }
    }
    fake_upstream.script(Reply.error(400, body), key="sk-a")
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"])))
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gateway.base_url).chat.completions.create(model="m1", messages=MESSAGES)
    assert caught.value.body == body["error"]
    assert len(fake_upstream.requests) == 1
    assert sdk(gateway.base_url).chat.completions.create(model="m1", messages=MESSAGES).choices


def test_priority_tier_and_fill_first(
    make_upstream: object, gateway_factory: GatewayFactory
) -> None:
    primary = make_upstream()  # type: ignore[operator]
    backup = make_upstream()  # type: ignore[operator]
    primary.script(Reply.error(401), key="sk-p1")
    gateway = gateway_factory(
        gateway_config(
            openai_entry("primary", primary.base_url, ["sk-p1", "sk-p2"], priority=10),
            openai_entry("backup", backup.base_url, ["sk-b1"], priority=0),
            routing={"strategy": "ff"},
        )
    )
    client = sdk(gateway.base_url)
    for _ in range(3):
        client.chat.completions.create(model="m1", messages=MESSAGES)
    # fill-first drains the first key; after its 401 the second key of the top tier serves.
    assert keys_used(primary) == ["sk-p1", "sk-p2", "sk-p2", "sk-p2"]
    assert backup.requests == []
    primary.script(Reply.error(403), key="sk-p2")
    client.chat.completions.create(model="m1", messages=MESSAGES)
    assert keys_used(backup) == ["sk-b1"]


@pytest.mark.invariant(11)
def test_no_retry_after_the_first_byte(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.reset(3, text="a b c d e f g h", chunks=8), key="sk-a")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": MESSAGES, "stream": True},
        headers=AUTH,
        timeout=10,
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert "data: [DONE]" not in lines
    assert '"error"' in lines[-1]
    assert keys_used(fake_upstream) == ["sk-a"]


def test_reset_before_the_first_byte_fails_over(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.script(Reply.reset(0), key="sk-a")
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"]))
    )
    stream = sdk(gateway.base_url).chat.completions.create(
        model="m1", messages=MESSAGES, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert keys_used(fake_upstream) == ["sk-a", "sk-b"]


def test_client_disconnect_cancels_a_waiting_call(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.hang()
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"])))
    body = {"model": "m1", "messages": MESSAGES}
    with pytest.raises(httpx.ReadTimeout):
        # The client gives up before any answer and closes its connection.
        httpx.post(f"{gateway.base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=1.0)
    assert fake_upstream.wait_until(lambda: len(fake_upstream.requests) == 1)
    assert fake_upstream.requests[0].wait_disconnected(timeout=3.0)


def test_client_disconnect_mid_stream_cancels_the_upstream(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("x " * 200, chunks=200, chunk_delay=0.05)
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"])))
    body = {"model": "m1", "messages": MESSAGES, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", f"{gateway.base_url}/v1/chat/completions", json=body, headers=AUTH
        ) as response,
    ):
        assert response.status_code == 200
        next(response.iter_raw())
        # Leaving the block closes the connection with most of the stream still to come.
    assert fake_upstream.requests[0].wait_disconnected(timeout=3.0)
    assert not fake_upstream.requests[0].completed
