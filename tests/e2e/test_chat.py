"""Chat Completions through the real server with the official openai SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "hello"}]


def sdk(base_url: str, key: str = CLIENT_KEY) -> openai.OpenAI:
    return tracked(openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=15))


def test_non_stream_answer_and_usage(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok(
        "Hi there",
        usage=Usage(prompt_tokens=11, completion_tokens=7, cached_tokens=4, reasoning_tokens=2),
    )
    gateway = gateway_factory(
        gateway_config(
            openai_entry("up", fake_upstream.base_url, ["sk-up-1"], [("real-model", "m1")])
        )
    )
    answer = sdk(gateway.base_url).chat.completions.create(model="m1", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hi there"
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == 11
    seen = fake_upstream.requests[-1]
    assert seen.json["model"] == "real-model"
    assert seen.headers["authorization"] == "Bearer sk-up-1"

    usage = httpx.get(f"{gateway.base_url}/usage").json()["usage"]
    model = usage["by_model"]["m1"]
    assert (model["requests"], model["input_tokens"], model["output_tokens"]) == (1, 11, 7)
    assert (model["cached_tokens"], model["reasoning_tokens"]) == (4, 2)


def test_stream_relayed_event_by_event(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok(
        "one two three four", chunks=4, usage=Usage(prompt_tokens=5, completion_tokens=4)
    )
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-up-1"]))
    )
    stream = sdk(gateway.base_url).chat.completions.create(
        model="m1", messages=MESSAGES, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == ["one", "two", "three", "four"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    # The client did not ask for usage, so the usage chunk the gateway asked for stays hidden.
    assert all(c.choices for c in chunks)
    assert fake_upstream.requests[-1].json["stream_options"] == {"include_usage": True}
    usage = httpx.get(f"{gateway.base_url}/usage").json()["usage"]["by_model"]["m1"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (5, 4)


def test_stream_with_client_usage_keeps_usage_chunk_and_done(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("a b", usage=Usage(prompt_tokens=3, completion_tokens=2))
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-up-1"]))
    )
    body = {
        "model": "m1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert '"choices":[]' in data[-2].replace(" ", "")
    assert '"prompt_tokens":3' in data[-2].replace(" ", "")


@pytest.mark.invariant(3)
def test_passthrough_keeps_unknown_fields_and_rewrites_only_model(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(
        gateway_config(
            openai_entry(
                "up",
                fake_upstream.base_url,
                ["sk-up-1"],
                [("upstream-name", "m1")],
                headers={"X-Entry-Header": "entry-value"},
            )
        )
    )
    body = {
        "model": "m1",
        "messages": MESSAGES,
        "temperature": 0.25,
        "some_future_field": {"nested": [1, 2, {"x": None}]},
        "metadata": {"k": "v"},
    }
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=body,
        headers={
            "authorization": f"Bearer {CLIENT_KEY}",
            "cookie": "session=client-cookie",
            "x-api-key": "client-extra-key",
            "connection": "keep-alive, x-hop",
            "x-hop": "hop-value",
            "proxy-authorization": "Basic Zm9vOmJhcg==",
        },
        timeout=10,
    )
    assert response.status_code == 200
    seen = fake_upstream.requests[-1]
    assert seen.json == {**body, "model": "upstream-name"}
    assert seen.headers["x-entry-header"] == "entry-value"
    assert seen.headers["authorization"] == "Bearer sk-up-1"
    for leaked in ("cookie", "x-api-key", "x-hop", "proxy-authorization"):
        assert leaked not in seen.headers
    assert CLIENT_KEY not in repr(seen.headers)


def test_models_list_is_exactly_what_routes(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(
        gateway_config(
            openai_entry(
                "up",
                fake_upstream.base_url,
                ["sk-up-1"],
                [("gpt-a", "alpha"), "gpt-b", "gpt-internal"],
                prefix="team",
                **{"excluded-models": ["*-internal"]},
            )
        )
    )
    client = sdk(gateway.base_url)
    listed = sorted(model.id for model in client.models.list())
    assert listed == ["alpha", "gpt-b", "team/alpha", "team/gpt-b"]
    assert client.chat.completions.create(model="team/alpha", messages=MESSAGES).choices
    assert fake_upstream.requests[-1].json["model"] == "gpt-a"
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-internal", messages=MESSAGES)
    assert caught.value.code == "model_not_found"

    claude_shape = httpx.get(
        f"{gateway.base_url}/v1/models",
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
    ).json()
    assert {entry["type"] for entry in claude_shape["data"]} == {"model"}
    assert claude_shape["has_more"] is False


def test_thinking_suffix_routes_to_base_model_with_effort(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(
        gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-up-1"]))
    )
    sdk(gateway.base_url).chat.completions.create(model="m1(high)", messages=MESSAGES)
    assert fake_upstream.requests[-1].json["model"] == "m1"
    assert fake_upstream.requests[-1].json["reasoning_effort"] == "high"
    sdk(gateway.base_url).chat.completions.create(model="m1(1000)", messages=MESSAGES)
    assert fake_upstream.requests[-1].json["reasoning_effort"] == "low"


def test_keepalive_during_a_silent_upstream(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    # The upstream thinks for 1.2 s between chunks; the client hears a keep-alive meanwhile.
    fake_upstream.default = Reply.ok("slow thought", chunks=2, chunk_delay=1.2)
    gateway = gateway_factory(
        gateway_config(
            openai_entry("up", fake_upstream.base_url, ["sk-up-1"]),
            streaming={"keepalive-seconds": 0.4},
        )
    )
    for path, body, ping in (
        (
            "/v1/chat/completions",
            {"model": "m1", "messages": MESSAGES, "stream": True},
            ": keepalive",
        ),
        (
            "/v1/messages",
            {"model": "m1", "messages": MESSAGES, "stream": True, "max_tokens": 64},
            "event: ping",
        ),
    ):
        with httpx.stream(
            "POST",
            f"{gateway.base_url}{path}",
            json=body,
            headers={"authorization": f"Bearer {CLIENT_KEY}", "anthropic-version": "2023-06-01"},
            timeout=10,
        ) as response:
            text = response.read().decode()
        assert ping in text
        assert text.rstrip().endswith(("data: [DONE]", '"type":"message_stop"}'))
