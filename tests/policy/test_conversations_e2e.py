"""Shared conversations through the real gateway, continued across client dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry, provider_key_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

OTHER_KEY = "sk-conversation-other-2c9e"
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = gateway_config(
        openai_entry("up", upstream.base_url, ["sk-up"], ["m1"]),
        api_keys=[CLIENT_KEY, OTHER_KEY],
        conversations={"max-turns": 6},
        **{"claude-api-key": [provider_key_entry("sk-claude-up", upstream.root_url, ["c1"])]},
    )
    home: Path = tmp_path_factory.mktemp("conversations")
    with GatewayProcess(config, tmp_path=home) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _fresh(upstream: FakeUpstream) -> None:
    upstream.clear(scripts=True)


def chat(gw: GatewayProcess, conversation: str, key: str = CLIENT_KEY) -> openai.OpenAI:
    return tracked(
        openai.OpenAI(
            base_url=f"{gw.base_url}/v1",
            api_key=key,
            max_retries=0,
            default_headers={"X-Conversation-Id": conversation},
        )
    )


def claude(gw: GatewayProcess, conversation: str) -> anthropic.Anthropic:
    return tracked(
        anthropic.Anthropic(
            base_url=gw.base_url,
            api_key=CLIENT_KEY,
            max_retries=0,
            default_headers={"X-Conversation-Id": conversation},
        )
    )


def history(gw: GatewayProcess, conversation: str | None, key: str = CLIENT_KEY) -> dict[str, Any]:
    path = "/v1/conversation" + (f"/{conversation}" if conversation else "")
    response = httpx.get(f"{gw.base_url}{path}", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of OpenAI-shaped or canonical messages."""
    out = []
    for message in messages:
        if "parts" in message:
            text = "".join(p.get("text", "") for p in message["parts"])
        else:
            content = message["content"]
            text = (
                content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            )
        out.append((message["role"], text))
    return out


def test_an_openai_client_and_an_anthropic_client_share_one_conversation(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    upstream.script(Reply.ok("Paris is the capital."), Reply.ok("About two million people."))
    first = chat(gateway, "trip").chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert first.choices[0].message.content == "Paris is the capital."
    second = claude(gateway, "trip").messages.create(
        model="m1", max_tokens=64, messages=[{"role": "user", "content": "How many live there?"}]
    )
    assert second.content[0].text == "About two million people."  # type: ignore[union-attr]
    sent = upstream.requests[-1].json["messages"]
    assert texts(sent) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital."),
        ("user", "How many live there?"),
    ]
    stored = history(gateway, "trip")
    assert stored["turns"] == 4
    assert texts(stored["messages"])[-1] == ("assistant", "About two million people.")


def test_a_streamed_answer_is_appended_and_reaches_a_claude_upstream(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    upstream.script(Reply.ok("streamed answer", chunks=2), Reply.ok("second"))
    with claude(gateway, "streamy").messages.stream(
        model="m1", max_tokens=64, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        assert stream.get_final_text() == "streamed answer"
    # A Gemini client continues it, served by a Claude upstream: the history is translated too.
    options = gtypes.HttpOptions(
        base_url=gateway.base_url,
        api_version="v1beta",
        headers={"X-Conversation-Id": "streamy"},
        retry_options=gtypes.HttpRetryOptions(attempts=1),
    )
    client = tracked(genai.Client(api_key=CLIENT_KEY, http_options=options))
    assert client.models.generate_content(model="c1", contents="and then?").text == "second"
    seen = upstream.requests[-1]
    assert seen.dialect == "claude"
    assert texts(seen.json["messages"]) == [
        ("user", "stream please"),
        ("assistant", "streamed answer"),
        ("user", "and then?"),
    ]


def test_history_is_bounded_oldest_first(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    client = chat(gateway, "long")
    for turn in range(5):
        upstream.script(Reply.ok(f"answer {turn}"))
        client.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": f"question {turn}"}]
        )
    stored = texts(history(gateway, "long")["messages"])
    assert len(stored) == 6
    assert stored[0] == ("user", "question 2")
    assert stored[-1] == ("assistant", "answer 4")
    assert len(upstream.requests[-1].json["messages"]) == 7  # six kept, one new


def test_get_and_delete_routes_and_the_default_conversation(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    chat(gateway, "default").chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "x"}]
    )
    assert history(gateway, None)["turns"] == 2
    assert history(gateway, "default")["turns"] == 2
    removed = httpx.delete(f"{gateway.base_url}/v1/conversation", headers=AUTH)
    assert removed.status_code == 200
    assert removed.json()["deleted"] is True
    assert history(gateway, None)["turns"] == 0

    chat(gateway, "named").chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "y"}]
    )
    assert (
        httpx.delete(f"{gateway.base_url}/v1/conversation/named", headers=AUTH).status_code == 200
    )
    assert history(gateway, "named") == {
        "id": "named",
        "object": "conversation",
        "turns": 0,
        "messages": [],
    }
    assert httpx.get(f"{gateway.base_url}/v1/conversation").status_code == 401


def test_conversations_belong_to_one_key(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    chat(gateway, "mine").chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "secret"}]
    )
    assert history(gateway, "mine", key=OTHER_KEY)["turns"] == 0
    chat(gateway, "mine", key=OTHER_KEY).chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "other"}]
    )
    assert texts(upstream.requests[-1].json["messages"]) == [("user", "other")]
    assert history(gateway, "mine")["turns"] == 2


def test_a_bad_conversation_id_is_a_400(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    for bad in ("../etc", "a/b", "-lead", "x" * 101):
        response = httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            json={"model": "m1", "messages": [{"role": "user", "content": "x"}]},
            headers={**AUTH, "x-conversation-id": bad},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_conversation_id"
    assert httpx.get(f"{gateway.base_url}/v1/conversation/..", headers=AUTH).status_code in (
        400,
        404,
    )
    assert upstream.requests == []


def test_a_failed_answer_leaves_the_history_alone(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    upstream.script(Reply.error(400))
    with pytest.raises(openai.BadRequestError):
        chat(gateway, "failing").chat.completions.create(
            model="m1", messages=[{"role": "user", "content": "x"}]
        )
    assert history(gateway, "failing")["turns"] == 0


def test_history_survives_a_restart(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    chat(gateway, "durable").chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "keep"}]
    )
    gateway.restart()
    assert texts(history(gateway, "durable")["messages"])[0] == ("user", "keep")
