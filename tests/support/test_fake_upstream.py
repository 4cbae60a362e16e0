"""The fake upstream, driven by the official openai SDK, httpx and raw sockets."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.support.fake_upstream import FakeUpstream, Reply, Usage
from tests.support.openai_wire import sse_data

pytest_plugins = ["tests.support.fixtures"]

KEY_A = "sk-test-aaaaaa111111"
KEY_B = "sk-test-bbbbbb222222"
CHAT: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
STREAM: dict[str, Any] = {**CHAT, "stream": True}
STREAM_USAGE: dict[str, Any] = {**STREAM, "stream_options": {"include_usage": True}}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_chat(up: FakeUpstream, body: dict[str, Any], key: str = KEY_A) -> httpx.Response:
    return httpx.post(f"{up.base_url}/chat/completions", json=body, headers=auth(key), timeout=5)


def sdk(up: FakeUpstream, key: str = KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=up.base_url, api_key=key, max_retries=0, timeout=5)


def raw_exchange(up: FakeUpstream, data: bytes, *, until: Callable[[bytes], bool]) -> bytes:
    """Send bytes on a fresh socket and read until the predicate holds or the peer closes."""
    received = b""
    with socket.create_connection(("127.0.0.1", up.port), timeout=5) as sock:
        sock.sendall(data)
        for _ in range(1000):
            if until(received):
                break
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
    return received


# -- OpenAI wire format --------------------------------------------------------------------------


def test_sdk_non_stream_reply_names_the_key_and_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = Reply.ok(
        usage=Usage(prompt_tokens=20, completion_tokens=7, cached_tokens=5, reasoning_tokens=3)
    )
    with sdk(fake_upstream) as client:
        completion = client.chat.completions.create(**CHAT)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    assert completion.choices[0].message.content == "hello from key 111111"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (20, 7, 27)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 5
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3


def test_sdk_stream_with_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = Reply.ok("a b c", usage=Usage(prompt_tokens=4, completion_tokens=3))
    with sdk(fake_upstream) as client:
        chunks = list(client.chat.completions.create(**STREAM_USAGE))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b c"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


async def test_async_sdk_stream_and_models(fake_upstream: FakeUpstream) -> None:
    async with openai.AsyncOpenAI(
        base_url=fake_upstream.base_url, api_key=KEY_B, max_retries=0, timeout=5
    ) as client:
        stream = await client.chat.completions.create(**STREAM)
        pieces = [c.choices[0].delta.content or "" async for c in stream]
        models = await client.models.list()
    assert "".join(pieces) == "hello from key 222222"
    assert [m.id for m in models.data] == ["gpt-4o", "gpt-4o-mini"]


def test_stream_event_sequence_without_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.default = Reply.ok("one two three")
    response = post_chat(fake_upstream, STREAM)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text.startswith("data: {")
    assert response.text.endswith("}\n\ndata: [DONE]\n\n")
    payloads = sse_data(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "one "},
        {"content": "two "},
        {"content": "three"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "stop"]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "gpt-4o", "chat.completion.chunk")
    }
    assert all("usage" not in c for c in chunks)


def test_stream_event_sequence_with_usage(fake_upstream: FakeUpstream) -> None:
    usage = Usage(prompt_tokens=11, completion_tokens=5, cached_tokens=8, reasoning_tokens=2)
    fake_upstream.default = Reply.ok("abcdef", chunks=3, usage=usage)
    payloads = sse_data(post_chat(fake_upstream, STREAM_USAGE).text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[:-1]]
    assert contents == ["", "ab", "cd", "ef", None]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 5,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 2,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def test_routes_outside_chat_are_not_scripted(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(500))
    base = fake_upstream.base_url
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{base}/models", headers=auth(KEY_A)).json()["object"] == "list"
        assert client.get(f"{base}/nope").status_code == 404
        assert client.get(f"{base}/chat/completions").status_code == 405
        no_key = client.post(f"{base}/chat/completions", json=CHAT)
        bad_json = client.post(f"{base}/chat/completions", content=b"{", headers=auth(KEY_A))
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "invalid_request_error"
    assert bad_json.status_code == 400
    assert fake_upstream.pending() == 1


# -- scripting -----------------------------------------------------------------------------------


def test_scripted_429_with_retry_after_then_default(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "5"}))
    first = post_chat(fake_upstream, CHAT)
    second = post_chat(fake_upstream, CHAT)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "5"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert second.status_code == 200
    assert fake_upstream.pending() == 0


def test_sdk_sees_scripted_errors(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "5"}), Reply.error(500))
    with sdk(fake_upstream) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(**CHAT)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(**CHAT)
    assert limited.value.response.headers["retry-after"] == "5"


def test_per_key_scripts_and_defaults(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(429), key=KEY_A, times=2)
    fake_upstream.script(Reply.ok("unkeyed"))
    fake_upstream.set_default(Reply.error(401), key="sk-revoked")
    assert fake_upstream.pending(KEY_A) == 2
    assert post_chat(fake_upstream, CHAT, KEY_B).json()["choices"][0]["message"]["content"] == (
        "unkeyed"
    )
    assert post_chat(fake_upstream, CHAT, KEY_B).status_code == 200
    assert [post_chat(fake_upstream, CHAT, KEY_A).status_code for _ in range(3)] == [429, 429, 200]
    assert [post_chat(fake_upstream, CHAT, "sk-revoked").status_code for _ in range(2)] == [401] * 2
    fake_upstream.set_default(None, key="sk-revoked")
    assert post_chat(fake_upstream, CHAT, "sk-revoked").status_code == 200
    fake_upstream.script(Reply.error(500), key=KEY_A)
    fake_upstream.clear(scripts=True)
    assert fake_upstream.requests == []
    assert post_chat(fake_upstream, CHAT, KEY_A).status_code == 200


def test_echo_key_and_raw_bodies(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply.echo_key(),
        Reply.echo_key(200),
        Reply.raw(b"data: {not json\n\n", headers={"Content-Type": "text/event-stream"}),
        Reply.error(400, "plain words", headers={"Content-Type": "text/plain"}),
    )
    revoked, echoed, raw, plain = (post_chat(fake_upstream, CHAT) for _ in range(4))
    assert revoked.status_code == 401
    assert KEY_A in revoked.json()["error"]["message"]
    assert echoed.json()["choices"][0]["message"]["content"] == KEY_A
    assert raw.headers["content-type"] == "text/event-stream"
    assert raw.content == b"data: {not json\n\n"
    assert (plain.status_code, plain.headers["content-type"], plain.text) == (
        400,
        "text/plain",
        "plain words",
    )


def test_truncated_bodies_fail_at_the_client(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply.raw(b'{"partial": true}', chunked=True, truncate=True),
        Reply.raw(b'{"partial": true}', truncate=True),
    )
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            post_chat(fake_upstream, CHAT)


def test_delays(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.ok(delay=0.3), Reply.ok("x y", chunk_delay=0.1))
    started = time.monotonic()
    post_chat(fake_upstream, CHAT)
    assert time.monotonic() - started >= 0.3
    arrivals: list[float] = []
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST", f"{fake_upstream.base_url}/chat/completions", json=STREAM, headers=auth(KEY_A)
        ) as response,
    ):
        arrivals = [time.monotonic() for line in response.iter_lines() if line]
    assert len(arrivals) == 5  # role, "x ", "y", finish, [DONE]
    assert arrivals[-1] - arrivals[0] >= 0.35


# -- recording -----------------------------------------------------------------------------------


def test_records_headers_body_and_key(fake_upstream: FakeUpstream) -> None:
    before = time.time()
    with httpx.Client(timeout=5) as client:
        client.post(
            f"{fake_upstream.base_url}/chat/completions",
            json=CHAT,
            headers={**auth(KEY_A), "X-Custom-Thing": "Yes", "OpenAI-Project": "proj_1"},
        )
        chunked = client.post(
            f"{fake_upstream.base_url}/chat/completions",
            content=iter([b'{"model": "m", ', b'"messages": []}']),
            headers=auth(KEY_B),
        )
    assert chunked.status_code == 200
    first, second = fake_upstream.requests
    assert (first.method, first.path, first.key) == ("POST", "/v1/chat/completions", KEY_A)
    assert first.headers["x-custom-thing"] == "Yes"
    assert first.headers["openai-project"] == "proj_1"
    assert first.headers["authorization"] == f"Bearer {KEY_A}"
    assert json.loads(first.body) == CHAT
    assert first.json == CHAT
    assert first.completed
    assert not first.client_disconnected
    assert first.reply == fake_upstream.default
    assert before <= first.timestamp <= second.timestamp <= time.time()
    assert second.headers["transfer-encoding"] == "chunked"
    assert second.body == b'{"model": "m", "messages": []}'
    assert fake_upstream.requests_for(KEY_B) == [second]
    assert fake_upstream.total_connections == 1  # keep-alive reused the connection
    fake_upstream.clear()
    assert fake_upstream.requests == []


def test_raw_http_keep_alive_pipelining_and_expect_continue(fake_upstream: FakeUpstream) -> None:
    body = json.dumps(CHAT).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-raw-123456\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    two = raw_exchange(fake_upstream, request * 2, until=lambda got: got.count(b"chatcmpl") == 2)
    assert two.count(b"HTTP/1.1 200 OK") == 2
    expect = request.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1)
    got = raw_exchange(fake_upstream, expect, until=lambda got: b"chatcmpl" in got)
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    bad = raw_exchange(fake_upstream, b"NONSENSE\r\n\r\n", until=lambda got: False)
    assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert [r.key for r in fake_upstream.requests] == ["sk-raw-123456"] * 3


# -- disconnects and resets ----------------------------------------------------------------------


def test_hang_until_client_disconnects(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.hang())
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(f"{fake_upstream.base_url}/chat/completions", json=CHAT, headers=auth(KEY_A))
    (hung,) = fake_upstream.requests
    assert hung.wait_disconnected(2.0)
    assert not hung.completed
    assert fake_upstream.wait_until(lambda: fake_upstream.open_connections == 0, 2.0)


async def test_client_leaving_mid_stream_is_recorded(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.ok("a b c", chunk_delay=60))
    async with (
        httpx.AsyncClient(timeout=5) as client,
        client.stream(
            "POST", f"{fake_upstream.base_url}/chat/completions", json=STREAM, headers=auth(KEY_A)
        ) as response,
    ):
        first = await anext(response.aiter_lines())
        assert first.startswith("data: {")
    (record,) = fake_upstream.requests
    assert await fake_upstream.wait_until_async(lambda: record.client_disconnected, 2.0)
    assert not record.completed


async def test_cancelled_request_is_recorded_as_disconnect(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.hang())
    async with httpx.AsyncClient(timeout=30) as client:
        url = f"{fake_upstream.base_url}/chat/completions"
        task = asyncio.ensure_future(client.post(url, json=CHAT, headers=auth(KEY_A)))
        assert await fake_upstream.wait_until_async(lambda: len(fake_upstream.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await fake_upstream.wait_until_async(
        lambda: fake_upstream.requests[0].client_disconnected, 2.0
    )


def test_reset_mid_stream_is_an_error_after_the_sent_events(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.reset(after_chunks=2, text="a b c d"))
    lines: list[str] = []
    with (
        httpx.Client(timeout=5) as client,
        pytest.raises(httpx.TransportError),
        client.stream(
            "POST", f"{fake_upstream.base_url}/chat/completions", json=STREAM, headers=auth(KEY_A)
        ) as response,
    ):
        lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) <= 2
    assert all(line.startswith("data: {") for line in lines)
    (record,) = fake_upstream.requests
    assert not record.completed


def test_sdk_sees_resets(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.reset(), Reply.reset(after_chunks=1), Reply.reset(after_chunks=3))
    with sdk(fake_upstream) as client:
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(**CHAT)
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(**CHAT)  # headers, then half the JSON
        stream = client.chat.completions.create(**STREAM)
        with pytest.raises(openai.APIConnectionError):
            list(stream)  # the SDK wraps the mid-stream reset too
    assert not any(r.completed for r in fake_upstream.requests)


# -- lifecycle -----------------------------------------------------------------------------------


def test_stop_ends_hanging_connections_promptly() -> None:
    up = FakeUpstream(default=Reply.hang()).start()
    try:
        sock = socket.create_connection(("127.0.0.1", up.port), timeout=5)
        with sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: Bearer sk-x\r\nContent-Length: 2\r\n\r\n{}"
            )
            assert up.wait_until(lambda: len(up.requests) == 1)
            started = time.monotonic()
            up.stop()
            assert time.monotonic() - started < 5
            assert sock.recv(1024) == b""
    finally:
        up.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{up.port}/v1/models", timeout=2)


def test_make_upstream_gives_independent_servers(
    make_upstream: Callable[..., FakeUpstream],
) -> None:
    first = make_upstream()
    second = make_upstream(models=["only-model"])
    assert first.port != second.port
    assert first.base_url == f"http://127.0.0.1:{first.port}/v1"
    listed = httpx.get(f"{second.base_url}/models", timeout=5).json()["data"]
    assert [m["id"] for m in listed] == ["only-model"]
    assert first.requests == []


def test_not_started_has_no_port() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeUpstream().base_url
