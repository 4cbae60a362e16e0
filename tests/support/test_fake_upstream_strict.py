"""The fake upstream refuses what the real services refuse, in each dialect's 400 envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.dialect_requests import dialect_request
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.replies import Dialect

pytest_plugins = ["tests.support.fixtures"]

KEY = "sk-strict-0000"
DROP = object()  # marks a field to remove from the minimal body

USER = {"role": "user", "content": "weather?"}
TOOL_USE = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}],
}
TOOL_RESULT = {
    "role": "user",
    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sun"}],
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
SIGNED = {"type": "thinking", "thinking": "hm", "signature": "sig"}
CALL = {"functionCall": {"name": "w", "args": {}}}
ANSWER = {"functionResponse": {"name": "w", "response": {"result": "sun"}}}
CHAT_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    ],
}

REFUSED: list[tuple[Dialect, dict[str, Any], str]] = [
    ("openai", {"messages": DROP}, "Missing required parameter: 'messages'."),
    (
        "openai",
        {"messages": [USER, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
        "preceeding message with 'tool_calls'",
    ),
    ("openai", {"messages": [USER, CHAT_CALL, USER]}, "did not have response messages: call_1"),
    ("openai-responses", {"input": DROP}, "Missing required parameter: 'input'."),
    (
        "openai-responses",
        {"input": [{"type": "function_call_output", "call_id": "call_9", "output": "x"}]},
        "No tool call found for function call output with call_id call_9.",
    ),
    ("claude", {"max_tokens": DROP}, "max_tokens: Field required"),
    ("claude", {"messages": [USER, USER]}, 'multiple "user" roles in a row'),
    (
        "claude",
        {"messages": [{"role": 1, "content": "x"}]},
        "messages.0.role: Input should be 'user' or 'assistant'",
    ),
    ("claude", {"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    (
        "claude",
        {
            "messages": [
                USER,
                TOOL_USE,
                {
                    **TOOL_RESULT,
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"}],
                },
            ]
        },
        "tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
    ),
    (
        "claude",
        {"messages": [USER, {"role": "assistant", "content": "ok"}, TOOL_RESULT]},
        "unexpected `tool_use_id` found in `tool_result` blocks: toolu_1",
    ),
    (
        "claude",
        {
            "messages": [
                USER,
                TOOL_USE,
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "and"}, TOOL_RESULT["content"][0]],
                },
            ]
        },
        "must come first",
    ),
    (
        "claude",
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call.1", "name": "w", "input": {}}],
                },
            ]
        },
        "String should match pattern",
    ),
    (
        "claude",
        {"thinking": {"type": "enabled", "budget_tokens": 1000}, "max_tokens": 4000},
        "greater than or equal to 1024",
    ),
    (
        "claude",
        {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 2048},
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    (
        "claude",
        {"thinking": THINKING, "max_tokens": 2048, "messages": [USER, TOOL_USE, TOOL_RESULT]},
        "must start with a thinking block",
    ),
    (
        "claude",
        {
            "thinking": THINKING,
            "max_tokens": 2048,
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "hm"}, TOOL_USE["content"][0]],
                },
                TOOL_RESULT,
            ],
        },
        "thinking.signature: Field required",
    ),
    (
        "claude",
        {
            "messages": [
                USER,
                {"role": "assistant", "content": [{"type": "text", "text": ""}]},
                USER,
            ]
        },
        "text content blocks must be non-empty",
    ),
    ("gemini", {"contents": DROP}, "contents is not specified"),
    (
        "gemini",
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
        "Please use a valid role: user, model.",
    ),
    (
        "gemini",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [CALL]},
                {"role": "user", "parts": [{"functionResponse": {"response": {}}}]},
            ]
        },
        "function_response.name: Name cannot be empty",
    ),
    (
        "gemini",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [CALL, CALL]},
                {"role": "user", "parts": [ANSWER]},
            ]
        },
        "number of function response parts is equal",
    ),
    (
        "gemini",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [CALL]},
                {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": "sun"}}]},
            ]
        },
        "google.protobuf.Struct",
    ),
]

ACCEPTED: list[tuple[Dialect, dict[str, Any]]] = [
    (
        "openai",
        {
            "messages": [
                USER,
                CHAT_CALL,
                {"role": "tool", "tool_call_id": "call_1", "content": "sun"},
            ]
        },
    ),
    (
        "openai-responses",
        {
            "input": [
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sun"},
            ]
        },
    ),
    (
        "openai-responses",
        {
            "previous_response_id": "resp_1",
            "input": [{"type": "function_call_output", "call_id": "c1", "output": "sun"}],
        },
    ),
    ("claude", {"messages": [USER, TOOL_USE, TOOL_RESULT]}),
    (
        "claude",
        {
            "thinking": THINKING,
            "max_tokens": 2048,
            "messages": [
                USER,
                {"role": "assistant", "content": [SIGNED, TOOL_USE["content"][0]]},
                TOOL_RESULT,
            ],
        },
    ),
    ("claude", {"messages": [USER, {"role": "assistant", "content": ""}]}),  # an empty prefill
    (
        "gemini",
        {
            "model": "models/gemini-2.5-flash",
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [CALL]},
                {"role": "user", "parts": [ANSWER]},
            ],
        },
    ),
    ("gemini", {"contents": [{"parts": [{"text": "no role is a user turn"}]}]}),
]


def send(up: FakeUpstream, dialect: Dialect, change: dict[str, Any]) -> httpx.Response:
    request = dialect_request(up, dialect, key=KEY)
    body = {**request.body, **change}
    body = {k: v for k, v in body.items() if v is not DROP}
    return httpx.post(request.url, headers=request.headers, json=body, timeout=5)


@pytest.mark.parametrize(("dialect", "change", "message"), REFUSED)
def test_refused_in_the_dialect_envelope(
    fake_upstream: FakeUpstream, dialect: Dialect, change: dict[str, Any], message: str
) -> None:
    response = send(fake_upstream, dialect, change)
    assert response.status_code == 400
    body = response.json()
    if dialect == "claude":
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        text = body["error"]["message"]
    elif dialect == "gemini":
        assert (body["error"]["code"], body["error"]["status"]) == (400, "INVALID_ARGUMENT")
        text = body["error"]["message"]
    else:
        assert body["error"]["type"] == "invalid_request_error"
        text = body["error"]["message"]
    assert message in text
    assert fake_upstream.requests[0].rejected == text


@pytest.mark.parametrize(("dialect", "change"), ACCEPTED)
def test_valid_tool_loops_are_accepted(
    fake_upstream: FakeUpstream, dialect: Dialect, change: dict[str, Any]
) -> None:
    response = send(fake_upstream, dialect, change)
    assert response.status_code == 200, response.text
    assert fake_upstream.requests[0].rejected is None


def test_scripted_failures_win_over_validation(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply.error(503), Reply.ok("fine"))
    first = send(fake_upstream, "claude", {"max_tokens": DROP})
    second = send(fake_upstream, "claude", {"max_tokens": DROP})
    assert (first.status_code, first.json()["error"]["type"]) == (503, "api_error")
    assert second.status_code == 400
    assert fake_upstream.pending() == 0  # a refused request consumes its reply too


def test_bad_json_is_refused_per_dialect(fake_upstream: FakeUpstream) -> None:
    request = dialect_request(fake_upstream, "gemini", key=KEY)
    response = httpx.post(request.url, headers=request.headers, content=b"{", timeout=5)
    assert (response.status_code, response.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
