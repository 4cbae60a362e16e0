"""The fake upstream's dialects on the raw wire: event order, strictness, auth, resets, hangs."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.dialect_requests import DIALECTS, dialect_request
from tests.support.embeddings_wire import estimate_tokens
from tests.support.fake_upstream import FakeUpstream, Reply, ToolCall, Usage
from tests.support.openai_wire import sse_data
from tests.support.replies import DEFAULT_SIGNATURE, Dialect

pytest_plugins = ["tests.support.fixtures"]

KEY = "sk-wire-abcdef"
ANTHROPIC = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


def post(
    up: FakeUpstream, dialect: Dialect, *, stream: bool = False, **body: Any
) -> httpx.Response:
    request = dialect_request(up, dialect, key=KEY, stream=stream)
    payload = {k: v for k, v in {**request.body, **body}.items() if v is not None}
    return httpx.post(request.url, headers=request.headers, json=payload, timeout=5)


def event_names(text: str) -> list[str]:
    return [line[7:] for line in text.split("\n") if line.startswith("event: ")]


# -- one script, every dialect -------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_usage_follows_the_9_5_formulas(fake_upstream: FakeUpstream, dialect: Dialect) -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=30, cached_tokens=60, reasoning_tokens=20)
    fake_upstream.default = Reply.ok("x", usage=usage)
    stream = dialect == "codex"
    response = post(fake_upstream, dialect, stream=stream)
    body = json.loads(sse_data(response.text)[-1]) if stream else response.json()
    got = {
        "openai": lambda b: b["usage"],
        "openai-responses": lambda b: b["usage"],
        "codex": lambda b: b["response"]["usage"],
        "claude": lambda b: b["usage"],
        "gemini": lambda b: b["usageMetadata"],
    }[dialect](body)
    expected = {
        "openai": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
        "openai-responses": {"input_tokens": 100, "output_tokens": 30, "total_tokens": 130},
        "codex": {"input_tokens": 100, "output_tokens": 30, "total_tokens": 130},
        "claude": {"input_tokens": 40, "cache_read_input_tokens": 60, "output_tokens": 30},
        "gemini": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 60,
            "candidatesTokenCount": 10,
            "thoughtsTokenCount": 20,
            "totalTokenCount": 130,
        },
    }[dialect]
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reset_mid_stream_in_every_dialect(fake_upstream: FakeUpstream, dialect: Dialect) -> None:
    fake_upstream.script(Reply.reset(after_chunks=2, text="a b c d e"))
    request = dialect_request(fake_upstream, dialect, key=KEY, stream=True)
    pieces: list[bytes] = []
    with (
        httpx.Client(timeout=5) as client,
        pytest.raises(httpx.TransportError),
        client.stream("POST", request.url, headers=request.headers, json=request.body) as response,
    ):
        pieces.extend(response.iter_raw())
    assert b"".join(pieces).count(b"data: ") <= 2  # what arrived before the RST, if anything
    assert not fake_upstream.requests[0].completed


@pytest.mark.parametrize("dialect", DIALECTS)
def test_hang_and_chunk_delay_in_every_dialect(
    fake_upstream: FakeUpstream, dialect: Dialect
) -> None:
    fake_upstream.script(Reply.hang(), Reply.ok("x y", chunk_delay=0.05))
    request = dialect_request(fake_upstream, dialect, key=KEY, stream=True)
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(request.url, headers=request.headers, json=request.body)
        started = time.monotonic()
        with client.stream("POST", request.url, headers=request.headers, json=request.body) as r:
            frames = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert time.monotonic() - started >= 0.05 * (len(frames) - 1) * 0.9
    assert fake_upstream.requests[0].wait_disconnected(2.0)


@pytest.mark.parametrize(
    ("dialect", "headers", "status", "marker"),
    [
        ("openai", {}, 401, "invalid_request_error"),
        ("codex", {}, 401, "detail"),
        ("claude", {"anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ("claude", {"x-api-key": KEY}, 400, "anthropic-version"),
        ("gemini", {}, 403, "PERMISSION_DENIED"),
    ],
)
def test_missing_credentials_get_the_dialect_envelope(
    fake_upstream: FakeUpstream, dialect: Dialect, headers: dict[str, str], status: int, marker: str
) -> None:
    fake_upstream.script(Reply.ok("kept"))
    request = dialect_request(fake_upstream, dialect, key=KEY)
    response = httpx.post(request.url, headers=headers, json=request.body, timeout=5)
    assert response.status_code == status
    assert marker in response.text
    assert fake_upstream.pending() == 1


def test_keys_are_recorded_whatever_carried_them(fake_upstream: FakeUpstream) -> None:
    gemini = dialect_request(fake_upstream, "gemini", key=KEY)
    with httpx.Client(timeout=5) as client:
        client.post(f"{gemini.url}?key=AIza-query", json=gemini.body)
        client.post(gemini.url, json=gemini.body, headers={"Authorization": "Bearer ya29.tok"})
        client.post(
            f"{fake_upstream.root_url}/v1/messages",
            json={"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": "Bearer sk-ant-oat01-x", "anthropic-version": "2023-06-01"},
        )
    assert [r.key for r in fake_upstream.requests] == ["AIza-query", "ya29.tok", "sk-ant-oat01-x"]
    assert [r.dialect for r in fake_upstream.requests] == ["gemini", "gemini", "claude"]


# -- raw event sequences -------------------------------------------------------------------------


def test_claude_stream_event_sequence(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = Reply.ok(
        "Hi", thinking="hm", tool_calls=[ToolCall("f", {"q": "long enough value"})]
    )
    response = post(fake_upstream, "claude", stream=True)
    names = event_names(response.text)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    payloads = [json.loads(p) for p in sse_data(response.text)]
    assert [p["type"] for p in payloads] == names
    deltas = [p["delta"] for p in payloads if p["type"] == "content_block_delta"]
    assert [d["type"] for d in deltas] == [
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "input_json_delta",
        "input_json_delta",
        "input_json_delta",
    ]
    assert deltas[1]["signature"] == DEFAULT_SIGNATURE
    assert json.loads("".join(d["partial_json"] for d in deltas[3:])) == {"q": "long enough value"}
    assert payloads[0]["message"]["usage"]["output_tokens"] == 1
    assert payloads[-2]["delta"]["stop_reason"] == "tool_use"


def test_gemini_stream_without_alt_sse_is_a_json_array(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = Reply.ok("a b", tool_calls=[ToolCall("f", {"x": 1})])
    request = dialect_request(fake_upstream, "gemini", key=KEY)
    url = request.url.replace(":generateContent", ":streamGenerateContent")
    response = httpx.post(url, headers=request.headers, json=request.body, timeout=5)
    assert response.headers["content-type"] == "application/json"
    chunks = response.json()
    assert [c["candidates"][0]["content"]["parts"][0] for c in chunks[:2]] == [
        {"text": "a "},
        {"text": "b"},
    ]
    assert chunks[-1]["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": DEFAULT_SIGNATURE}
    ]
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, "STOP"]


def test_vertex_project_path_and_unknown_action(fake_upstream: FakeUpstream) -> None:
    request = dialect_request(fake_upstream, "gemini", key=KEY)
    path = "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro"
    with httpx.Client(timeout=5, headers=request.headers) as client:
        ok = client.post(f"{fake_upstream.root_url}{path}:generateContent", json=request.body)
        unknown = client.post(f"{fake_upstream.root_url}{path}:frobnicate", json=request.body)
    assert ok.json()["modelVersion"] == "gemini-2.5-pro"
    assert (unknown.status_code, unknown.json()["error"]["status"]) == (404, "NOT_FOUND")


def test_separate_scripts_for_counting_and_embedding(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(429), endpoint="count_tokens")
    fake_upstream.script(Reply.error(500), key=KEY, endpoint="embeddings")
    count = {"model": "c", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(timeout=5) as client:
        generated = post(fake_upstream, "claude")
        counted = client.post(
            f"{fake_upstream.root_url}/v1/messages/count_tokens", json=count, headers=ANTHROPIC
        )
        recounted = client.post(
            f"{fake_upstream.root_url}/v1/messages/count_tokens", json=count, headers=ANTHROPIC
        )
        embedded = client.post(
            f"{fake_upstream.base_url}/embeddings",
            json={"model": "e", "input": "x"},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert generated.status_code == 200
    assert counted.status_code == 429
    assert counted.json()["error"]["type"] == "rate_limit_error"
    assert recounted.json() == {"input_tokens": estimate_tokens(count)}
    assert (embedded.status_code, embedded.json()["error"]["type"]) == (500, "server_error")
    assert fake_upstream.pending(endpoint="count_tokens") == 0


def test_request_views_across_dialects(fake_upstream: FakeUpstream) -> None:
    png = "iVBORw0KGgo="
    claude = {
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png},
                    },
                    {"type": "text", "text": "what is this"},
                ],
            }
        ],
    }
    gemini = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
        "contents": [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": png}}]}
        ],
    }
    chat = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
                ],
            },
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
    }
    assert post(fake_upstream, "claude", **claude).status_code == 200
    assert post(fake_upstream, "gemini", **gemini).status_code == 200
    assert post(fake_upstream, "openai", **chat).status_code == 200
    for record in fake_upstream.requests:
        assert record.system == "Be brief."
        assert record.tool_names == ["get_weather"]
        assert record.images == [f"data:image/png;base64,{png}"]
