"""The OAuth executors against httpx.MockTransport: URLs, headers, bodies, 401 and quota paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aiproxyapi.config import QuotaExceeded
from aiproxyapi.credential import OAuthCredential, ProviderKind
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors import Action, Grant, UpstreamCall
from aiproxyapi.executors.claude_oauth import CLAUDE_CODE_IDENTITY, ClaudeOAuthExecutor
from aiproxyapi.executors.codex_backend import CodexBackendExecutor
from aiproxyapi.executors.gemini_cli import GeminiCliExecutor
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.openai_oauth import CopilotExecutor, IFlowExecutor, QwenExecutor
from aiproxyapi.executors.vertex_sa import VertexServiceAccountExecutor
from aiproxyapi.secret import Secret

Handler = Callable[[httpx.Request], httpx.Response]


class MockClients(HttpClients):
    """Every proxy gets the one client over the test's MockTransport."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return handler(request)

        self.client = httpx.AsyncClient(transport=httpx.MockTransport(record))

    def get(
        self, proxy_url: str, global_proxy: str, timeouts: UpstreamTimeouts
    ) -> httpx.AsyncClient:
        return self.client


class FakeTokens:
    """A token source with a scripted renewal and a project list."""

    def __init__(self, token: str = "tok-1", *, projects: tuple[str, ...] = ("p1",)) -> None:
        self.current = Grant(
            access_token=Secret(token),
            api_key=Secret("key-1"),
            project=projects[0] if projects else "",
        )
        self.projects = projects
        self.renewals = 0
        self.renew_to: str | None = "tok-2"

    async def grant(self, credential: OAuthCredential) -> Grant:
        return self.current

    async def renew(self, credential: OAuthCredential, stale: Grant) -> Grant | None:
        self.renewals += 1
        if self.renew_to is None:
            return None
        self.current = Grant(access_token=Secret(self.renew_to), project=stale.project)
        return self.current

    async def next_project(self, credential: OAuthCredential, current: str) -> Grant | None:
        index = self.projects.index(current) + 1
        if index >= len(self.projects):
            return None
        self.current = Grant(access_token=self.current.access_token, project=self.projects[index])
        return self.current

    async def remember_project(self, credential: OAuthCredential, project: str) -> Grant:
        self.current = Grant(access_token=self.current.access_token, project=project)
        return self.current


def credential(kind: ProviderKind, **extra: Any) -> OAuthCredential:
    return OAuthCredential(
        id=f"{kind.value}.json", kind=kind, provider=kind.value, label="a@b", **extra
    )


def call(
    kind: ProviderKind, body: dict[str, Any], *, stream: bool = False, **extra: Any
) -> UpstreamCall:
    return UpstreamCall(
        credential=credential(kind, **extra.pop("cred", {})),
        upstream_model=extra.pop("model", "m1"),
        body=json.dumps(body).encode(),
        stream=stream,
        **extra,
    )


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


TIMEOUTS = UpstreamTimeouts()


async def test_claude_oauth_uses_bearer_betas_and_the_identity_block() -> None:
    clients = MockClients(lambda r: httpx.Response(200, json={"ok": True}))
    executor = ClaudeOAuthExecutor(clients, "", TIMEOUTS, FakeTokens())
    upstream = call(
        ProviderKind.CLAUDE_OAUTH,
        {"model": "m1", "system": "be brief", "messages": []},
        forward_headers=(("anthropic-beta", "context-1m-2025-08-07"),),
    )
    response = await executor.open(upstream)
    await response.aread()
    (sent,) = clients.seen
    assert str(sent.url) == "https://api.anthropic.com/v1/messages?beta=true"
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert "x-api-key" not in sent.headers
    betas = sent.headers["anthropic-beta"].split(",")
    assert betas[:2] == ["claude-code-20250219", "oauth-2025-04-20"]
    assert "context-1m-2025-08-07" in betas
    assert sent.headers["anthropic-version"] == "2023-06-01"
    system = json.loads(sent.content)["system"]
    assert system[0] == {"type": "text", "text": CLAUDE_CODE_IDENTITY}
    assert system[1] == {"type": "text", "text": "be brief"}
    await clients.client.aclose()


async def test_claude_oauth_count_tokens_and_an_existing_identity_block() -> None:
    clients = MockClients(lambda r: httpx.Response(200, json={"input_tokens": 3}))
    executor = ClaudeOAuthExecutor(clients, "", TIMEOUTS, FakeTokens())
    identity = [{"type": "text", "text": CLAUDE_CODE_IDENTITY}]
    upstream = call(
        ProviderKind.CLAUDE_OAUTH,
        {"model": "m1", "system": identity, "messages": []},
        action=Action.COUNT_TOKENS,
    )
    await (await executor.open(upstream)).aread()
    (sent,) = clients.seen
    assert sent.url.path == "/v1/messages/count_tokens"
    assert sent.url.query == b"beta=true"
    assert json.loads(sent.content)["system"] == identity  # not added twice
    await clients.client.aclose()


async def test_a_401_renews_the_token_and_retries_the_same_credential_once() -> None:
    answers = iter([httpx.Response(401, json={"error": "expired"}), httpx.Response(200, json={})])
    clients = MockClients(lambda r: next(answers))
    tokens = FakeTokens()
    executor = QwenExecutor(clients, "", TIMEOUTS, tokens)
    await (await executor.open(call(ProviderKind.QWEN, {"model": "m1", "messages": []}))).aread()
    assert [r.headers["authorization"] for r in clients.seen] == ["Bearer tok-1", "Bearer tok-2"]
    assert tokens.renewals == 1
    await clients.client.aclose()


async def test_a_401_whose_renewal_fails_goes_to_the_pool() -> None:
    clients = MockClients(lambda r: httpx.Response(401, json={"error": "tok-1 expired"}))
    tokens = FakeTokens()
    tokens.renew_to = None
    executor = QwenExecutor(clients, "", TIMEOUTS, tokens)
    with pytest.raises(UpstreamFailure) as caught:
        await executor.open(call(ProviderKind.QWEN, {"model": "m1", "messages": []}))
    assert caught.value.status == 401
    assert b"tok-1" not in caught.value.body  # the echoed token is scrubbed
    assert len(clients.seen) == 1
    await clients.client.aclose()


async def test_codex_streams_upstream_and_assembles_a_non_streaming_answer() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hi"}],
    }
    stream = sse(
        {"type": "response.created", "response": {"id": "r1"}},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "response": {"id": "r1", "status": "completed", "output": []},
        },
    )
    clients = MockClients(
        lambda r: httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})
    )
    executor = CodexBackendExecutor(clients, "", TIMEOUTS, FakeTokens())
    body = {
        "model": "gpt-5-codex",
        "input": [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}],
        "max_output_tokens": 100,
        "temperature": 0.2,
        "service_tier": "auto",
    }
    upstream = call(
        ProviderKind.CODEX_OAUTH,
        body,
        cred={"account_id": "acct-1"},
        forward_headers=(("session_id", "sess-9"),),
    )
    response = await executor.open(upstream)
    answer = json.loads(await response.aread())
    assert answer["output"] == [item]  # rebuilt from output_item.done
    (sent,) = clients.seen
    assert str(sent.url) == "https://chatgpt.com/backend-api/codex/responses"
    assert sent.headers["chatgpt-account-id"] == "acct-1"
    assert sent.headers["originator"] == "codex_cli_rs"
    assert sent.headers["session_id"] == "sess-9"
    assert sent.headers["version"]
    assert sent.headers["accept"] == "text/event-stream"
    sent_body = json.loads(sent.content)
    assert (sent_body["stream"], sent_body["store"], sent_body["instructions"]) == (True, False, "")
    for dropped in ("max_output_tokens", "temperature", "service_tier"):
        assert dropped not in sent_body
    assert sent_body["input"][0]["role"] == "developer"
    await clients.client.aclose()


async def test_codex_stream_that_ends_before_completion_fails_the_attempt() -> None:
    stream = sse({"type": "response.created", "response": {"id": "r1"}})
    clients = MockClients(lambda r: httpx.Response(200, content=stream))
    executor = CodexBackendExecutor(clients, "", TIMEOUTS, FakeTokens())
    with pytest.raises(UpstreamFailure) as caught:
        await executor.open(call(ProviderKind.CODEX_OAUTH, {"model": "m", "input": "hi"}))
    assert caught.value.status == 408
    await clients.client.aclose()


async def test_gemini_cli_wraps_the_request_and_unwraps_answers() -> None:
    inner = {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}

    def answer(request: httpx.Request) -> httpx.Response:
        if "streamGenerateContent" in request.url.path:
            return httpx.Response(200, content=sse({"response": inner, "traceId": "t1"}))
        return httpx.Response(200, json={"response": inner, "traceId": "t1"})

    clients = MockClients(answer)
    executor = GeminiCliExecutor(clients, "", TIMEOUTS, FakeTokens(), QuotaExceeded())
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    plain = await executor.open(call(ProviderKind.GEMINI_CLI, body, model="gemini-2.5-pro"))
    assert json.loads(await plain.aread()) == {**inner, "responseId": "t1"}
    streamed = await executor.open(call(ProviderKind.GEMINI_CLI, body, stream=True))
    chunks = b"".join([chunk async for chunk in streamed.aiter_bytes()])
    assert (
        chunks
        == b"data: "
        + json.dumps({**inner, "responseId": "t1"}, separators=(",", ":")).encode()
        + b"\n\n"
    )
    first, second = clients.seen
    assert str(first.url) == "https://cloudcode-pa.googleapis.com/v1internal:generateContent"
    assert second.url.path == "/v1internal:streamGenerateContent"
    assert second.url.query == b"alt=sse"
    assert json.loads(first.content) == {
        "model": "gemini-2.5-pro",
        "project": "p1",
        "request": body,
    }
    assert first.headers["authorization"] == "Bearer tok-1"
    assert first.headers["user-agent"].startswith("GeminiCLI/")
    await clients.client.aclose()


async def test_gemini_cli_count_tokens_has_no_project_or_model_at_the_top() -> None:
    clients = MockClients(lambda r: httpx.Response(200, json={"totalTokens": 5}))
    executor = GeminiCliExecutor(clients, "", TIMEOUTS, FakeTokens(), QuotaExceeded())
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    response = await executor.open(
        call(ProviderKind.GEMINI_CLI, body, model="gemini-2.5-pro", action=Action.COUNT_TOKENS)
    )
    assert json.loads(await response.aread()) == {"totalTokens": 5}
    (sent,) = clients.seen
    assert sent.url.path == "/v1internal:countTokens"
    assert json.loads(sent.content) == {
        "request": {"model": "models/gemini-2.5-pro", "contents": body["contents"]}
    }
    await clients.client.aclose()


async def test_quota_moves_to_the_next_project_then_to_the_preview_model() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if sent["model"].endswith("preview-06-05"):
            return httpx.Response(200, json={"response": {"candidates": []}})
        return httpx.Response(429, json={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})

    clients = MockClients(answer)
    tokens = FakeTokens(projects=("p1", "p2"))
    executor = GeminiCliExecutor(clients, "", TIMEOUTS, tokens, QuotaExceeded())
    body = {"contents": []}
    await (await executor.open(call(ProviderKind.GEMINI_CLI, body, model="gemini-2.5-pro"))).aread()
    tried = [
        (json.loads(r.content)["project"], json.loads(r.content)["model"]) for r in clients.seen
    ]
    assert tried == [
        ("p1", "gemini-2.5-pro"),
        ("p2", "gemini-2.5-pro"),
        ("p2", "gemini-2.5-pro-preview-06-05"),
    ]
    await clients.client.aclose()


async def test_quota_switching_is_off_when_the_config_says_so() -> None:
    clients = MockClients(lambda r: httpx.Response(429, json={"error": {"code": 429}}))
    tokens = FakeTokens(projects=("p1", "p2"))
    off = QuotaExceeded(switch_project=False, switch_preview_model=False)
    executor = GeminiCliExecutor(clients, "", TIMEOUTS, tokens, off)
    with pytest.raises(UpstreamFailure) as caught:
        await executor.open(call(ProviderKind.GEMINI_CLI, {"contents": []}, model="gemini-2.5-pro"))
    assert caught.value.status == 429
    assert len(clients.seen) == 1
    await clients.client.aclose()


async def test_gemini_cli_discovers_a_project_through_load_code_assist_and_onboarding() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":loadCodeAssist"):
            return httpx.Response(
                200, json={"allowedTiers": [{"id": "free-tier", "isDefault": True}]}
            )
        if request.url.path.endswith(":onboardUser"):
            done = {"done": True, "response": {"cloudaicompanionProject": {"id": "auto-proj"}}}
            return httpx.Response(200, json=done)
        return httpx.Response(200, json={"response": {"candidates": []}})

    clients = MockClients(answer)
    tokens = FakeTokens(projects=())
    executor = GeminiCliExecutor(clients, "", TIMEOUTS, tokens, QuotaExceeded())
    await (await executor.open(call(ProviderKind.GEMINI_CLI, {"contents": []}))).aread()
    paths = [r.url.path for r in clients.seen]
    assert paths == [
        "/v1internal:loadCodeAssist",
        "/v1internal:onboardUser",
        "/v1internal:generateContent",
    ]
    assert json.loads(clients.seen[1].content)["tierId"] == "free-tier"
    assert json.loads(clients.seen[2].content)["project"] == "auto-proj"
    assert tokens.current.project == "auto-proj"
    await clients.client.aclose()


@pytest.mark.parametrize(
    ("executor_cls", "kind", "cred", "url", "bearer"),
    [
        (
            QwenExecutor,
            ProviderKind.QWEN,
            {"base_url": "https://res.example/v1"},
            "https://res.example/v1/chat/completions",
            "tok-1",
        ),
        (
            QwenExecutor,
            ProviderKind.QWEN,
            {},
            "https://portal.qwen.ai/v1/chat/completions",
            "tok-1",
        ),
        (
            IFlowExecutor,
            ProviderKind.IFLOW,
            {},
            "https://apis.iflow.cn/v1/chat/completions",
            "key-1",
        ),
        (
            CopilotExecutor,
            ProviderKind.COPILOT,
            {},
            "https://api.githubcopilot.com/chat/completions",
            "tok-1",
        ),
    ],
)
async def test_openai_chat_accounts(
    executor_cls: Any, kind: ProviderKind, cred: dict[str, Any], url: str, bearer: str
) -> None:
    clients = MockClients(lambda r: httpx.Response(200, json={}))
    executor = executor_cls(clients, "", TIMEOUTS, FakeTokens())
    await (await executor.open(call(kind, {"model": "m1", "messages": []}, cred=cred))).aread()
    (sent,) = clients.seen
    assert str(sent.url) == url
    assert sent.headers["authorization"] == f"Bearer {bearer}"
    if kind is ProviderKind.COPILOT:
        assert sent.headers["copilot-integration-id"] == "vscode-chat"
        assert sent.headers["editor-version"].startswith("vscode/")
    await clients.client.aclose()


@pytest.mark.parametrize(
    ("location", "url"),
    [
        (
            "europe-west4",
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-v/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent",
        ),
        (
            "global",
            "https://aiplatform.googleapis.com/v1/projects/proj-v/locations/global/publishers/google/models/gemini-2.5-pro:generateContent",
        ),
        (
            "",
            "https://us-central1-aiplatform.googleapis.com/v1/projects/proj-v/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
        ),
    ],
)
async def test_vertex_service_account_urls(location: str, url: str) -> None:
    clients = MockClients(lambda r: httpx.Response(200, json={}))
    executor = VertexServiceAccountExecutor(clients, "", TIMEOUTS, FakeTokens(projects=("",)))
    upstream = call(
        ProviderKind.VERTEX_SA,
        {"contents": []},
        model="gemini-2.5-pro",
        cred={"projects": ("proj-v",), "location": location},
    )
    await (await executor.open(upstream)).aread()
    (sent,) = clients.seen
    assert str(sent.url) == url
    assert sent.headers["authorization"] == "Bearer tok-1"
    await clients.client.aclose()


async def test_every_upstream_url_follows_its_environment_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIPROXYAPI_CLAUDE_API_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("AIPROXYAPI_QWEN_API_URL", "http://127.0.0.1:9/qwen")
    clients = MockClients(lambda r: httpx.Response(200, json={}))
    claude = ClaudeOAuthExecutor(clients, "", TIMEOUTS, FakeTokens())
    qwen = QwenExecutor(clients, "", TIMEOUTS, FakeTokens())
    await (
        await claude.open(call(ProviderKind.CLAUDE_OAUTH, {"model": "m", "messages": []}))
    ).aread()
    await (
        await qwen.open(
            call(
                ProviderKind.QWEN,
                {"model": "m", "messages": []},
                cred={"base_url": "https://res.example/v1"},
            )
        )
    ).aread()
    assert [str(r.url) for r in clients.seen] == [
        "http://127.0.0.1:9/v1/messages?beta=true",
        "http://127.0.0.1:9/qwen/chat/completions",
    ]
    await clients.client.aclose()


async def test_codex_usage_limit_sets_the_rest_until_the_reset() -> None:
    limit = {"error": {"type": "usage_limit_reached", "resets_in_seconds": 3600}}
    clients = MockClients(lambda r: httpx.Response(429, json=limit))
    executor = CodexBackendExecutor(clients, "", TIMEOUTS, FakeTokens())
    with pytest.raises(UpstreamFailure) as caught:
        await executor.open(call(ProviderKind.CODEX_OAUTH, {"model": "m", "input": "hi"}))
    assert caught.value.headers["retry-after"] == "3600"
    from aiproxyapi.executors.codex_backend import usage_limit_wait

    at = json.dumps({"error": {"type": "usage_limit_reached", "resets_at": 1000}}).encode()
    assert usage_limit_wait(at, now=400.0) == 600.0
    assert usage_limit_wait(b'{"detail": "x"}', now=0.0) is None
    await clients.client.aclose()


def test_google_retry_delays_are_read_from_the_error_details() -> None:
    from aiproxyapi.executors.gemini_cli import retry_delay

    def body(detail: dict[str, Any]) -> bytes:
        return json.dumps({"error": {"code": 429, "details": [detail]}}).encode()

    info = "type.googleapis.com/google.rpc.RetryInfo"
    assert retry_delay(body({"@type": info, "retryDelay": "0.84s"})) == 0.84
    assert retry_delay(body({"@type": info, "retryDelay": "1500ms"})) == 1.5
    assert retry_delay(body({"metadata": {"quotaResetDelay": "30s"}})) == 30.0
    assert retry_delay(json.dumps([{"error": {"details": [{"retryDelay": "2s"}]}}]).encode()) == 2.0
    assert retry_delay(b"not json") is None
