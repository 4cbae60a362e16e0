"""The end-to-end matrix: every client dialect in front of every upstream kind, with official SDKs.

One fake upstream and one gateway serve the whole module. The gateway declares one entry per
upstream kind (openai-compatibility, claude-api-key, gemini-api-key, codex-api-key,
vertex-api-key), each with its own upstream key and a `via-<kind>` alias: see UPSTREAMS.

The matrix proper (160 cells): test_text, test_tool_round_trip, test_image, test_thinking, each
over client (chat, responses, anthropic, gemini; see matrix_clients.py) x upstream kind x
(json, stream). Then real client shapes (Claude Code, Codex CLI, Gemini CLI), error mapping,
token counting, and the legacy completions and embeddings routes.

The gateway runs with cooling disabled and no retry rounds, so a scripted error never rests a
credential into the next test and each client request makes exactly one upstream attempt.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import types as gtypes

from tests.e2e.matrix_clients import (
    DRIVERS,
    IMAGE_DATA_URL,
    PNG_B64,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    TOOL_RESULT,
    AnthropicDriver,
    Driver,
    GeminiDriver,
    ResponsesDriver,
)
from tests.support import claude_wire, gemini_wire, openai_wire
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry, provider_key_entry
from tests.support.embeddings_wire import embedding_vector, estimate_tokens
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Dialect, RecordedRequest, Reply, ToolCall
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Upstream:
    """One upstream kind as the gateway config declares it and the fake records it."""

    kind: str
    section: str
    key: str
    alias: str
    model: str
    dialect: Dialect
    path: str  # where the executor must post (a prefix: Gemini appends the method)
    call_id: str | None  # the tool call id the scripted model gives, in the dialect's style


# fmt: off
UPSTREAMS: dict[str, Upstream] = {u.kind: u for u in (
    #        kind      config list             key             alias         upstream model       the fake records    posted to (prefix)                                scripted call id
    Upstream("openai", "openai-compatibility", "sk-up-openai", "via-openai", "gpt-4.1",           "openai",           "/v1/chat/completions",                           "call_mxOpenai01"),
    Upstream("claude", "claude-api-key",       "sk-up-claude", "via-claude", "claude-sonnet-4-5", "claude",           "/v1/messages",                                   "toolu_01MxClaude"),
    Upstream("gemini", "gemini-api-key",       "sk-up-gemini", "via-gemini", "gemini-2.5-pro",    "gemini",           "/v1beta/models/gemini-2.5-pro:",                 None),
    Upstream("codex",  "codex-api-key",        "sk-up-codex",  "via-codex",  "gpt-5-codex",       "openai-responses", "/v1/responses",                                  "call_mxCodex01"),
    Upstream("vertex", "vertex-api-key",       "sk-up-vertex", "via-vertex", "gemini-2.5-flash",  "gemini",           "/v1/publishers/google/models/gemini-2.5-flash:", None),
)}
# fmt: on
EMBEDDING_MODELS = {
    "openai": ("text-embedding-3-small", "embed-openai"),
    "gemini": ("gemini-embedding-001", "embed-gemini"),
}

CLIENTS = tuple(DRIVERS)
KINDS = tuple(UPSTREAMS)

TEXT = "Hello from the matrix: every dialect, every upstream."
AFTER_TOOL = "It is sunny in Paris, 21 degrees."
IMAGE_ANSWER = "Red, green, blue and yellow."
THOUGHT = "17 times 23 is 17 times 20 plus 17 times 3, so 340 plus 51."
THOUGHT_ANSWER = "The answer is 391."

# wire-formats §9.4, the level/budget table the gateway follows: the matrix clients ask for
# effort "high" (Chat, Responses) or a 2048-token budget (Anthropic, Gemini).
ASKED_LEVEL = {"chat": "high", "responses": "high", "anthropic": "medium", "gemini": "medium"}
ASKED_BUDGET = {"chat": 24576, "responses": 24576, "anthropic": 2048, "gemini": 2048}


# ---- fixtures ---------------------------------------------------------------------------------


def matrix_config(fake: FakeUpstream) -> str:
    """The five entries, one per upstream kind; OpenAI kinds post under /v1, the others at root."""
    openai_up = UPSTREAMS["openai"]
    sections: dict[str, Any] = {}
    for upstream in UPSTREAMS.values():
        if upstream is openai_up:
            continue
        base_url = fake.base_url if upstream.kind == "codex" else fake.root_url
        models = [(upstream.model, upstream.alias)]
        if upstream.kind in EMBEDDING_MODELS:
            models.append(EMBEDDING_MODELS[upstream.kind])
        sections[upstream.section] = [provider_key_entry(upstream.key, base_url, models)]
    return gateway_config(
        openai_entry(
            "matrix-openai",
            fake.base_url,
            [openai_up.key],
            [(openai_up.model, openai_up.alias), EMBEDDING_MODELS["openai"]],
        ),
        **sections,
        **{"disable-cooling": True, "request-retry": 0},
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gateway(
    fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    home = tmp_path_factory.mktemp("matrix-gateway")
    with GatewayProcess(matrix_config(fake), tmp_path=home) as process:
        yield process


@pytest.fixture(scope="module")
def drivers(gateway: GatewayProcess) -> Iterator[dict[str, Driver]]:
    made = {name: make(gateway.base_url, CLIENT_KEY) for name, make in DRIVERS.items()}
    yield made
    for driver in made.values():
        driver.close()


@pytest.fixture(autouse=True)
def _fresh_upstream(fake: FakeUpstream) -> None:
    fake.clear(scripts=True)


def sent(fake: FakeUpstream, upstream: Upstream, count: int = 1) -> list[RecordedRequest]:
    """The upstream requests of this test: exactly count, all to this upstream's route and key."""
    requests = fake.requests
    seen = [(r.key, r.dialect, r.path, r.model) for r in requests]
    assert len(requests) == count, seen
    for request in requests:
        assert (request.key, request.dialect, request.model) == (
            upstream.key,
            upstream.dialect,
            upstream.model,
        ), seen
        assert request.path.startswith(upstream.path), seen
        assert request.rejected is None, request.rejected
    return requests


CELLS = pytest.mark.parametrize(
    ("client", "kind", "stream"),
    list(product(CLIENTS, KINDS, (False, True))),
    ids=[f"{c}-{k}-{'stream' if s else 'json'}" for c, k, s in product(CLIENTS, KINDS, (0, 1))],
)


# ---- what the upstream's second request says about the tool call ---------------------------


@dataclass(frozen=True)
class Exchange:
    """A tool call replayed to the upstream and the result answering it, in neutral terms.

    call_ref and result_ref are what the dialect pairs them by: ids for Chat, Responses and
    Claude, the function name for Gemini.
    """

    name: str
    arguments: dict[str, Any]
    call_ref: str
    result_ref: str
    result_text: str


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return json.dumps(content)


def _chat_exchange(body: dict[str, Any]) -> Exchange:
    messages = body["messages"]
    (assistant,) = [m for m in messages if m.get("role") == "assistant" and m.get("tool_calls")]
    (call,) = assistant["tool_calls"]
    (result,) = [m for m in messages if m.get("role") == "tool"]
    function = call["function"]
    return Exchange(
        function["name"],
        json.loads(function["arguments"]),
        call["id"],
        result["tool_call_id"],
        _text_of(result["content"]),
    )


def _responses_exchange(body: dict[str, Any]) -> Exchange:
    items = body["input"]
    (call,) = [i for i in items if i.get("type") == "function_call"]
    (result,) = [i for i in items if i.get("type") == "function_call_output"]
    return Exchange(
        call["name"],
        json.loads(call["arguments"]),
        call["call_id"],
        result["call_id"],
        _text_of(result["output"]),
    )


def _claude_exchange(body: dict[str, Any]) -> Exchange:
    messages = body["messages"]
    ((index, use),) = [
        (i, block)
        for i, message in enumerate(messages)
        if message["role"] == "assistant" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_use"
    ]
    answer = messages[index + 1]
    assert answer["role"] == "user", messages
    (result,) = [b for b in answer["content"] if b.get("type") == "tool_result"]
    return Exchange(
        use["name"],
        use["input"],
        use["id"],
        result["tool_use_id"],
        _text_of(result.get("content")),
    )


def _pick(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A Gemini field in either spelling: the API takes snake_case aliases too (§5.1)."""
    return obj.get(camel, obj.get(snake))


def _gemini_exchange(body: dict[str, Any]) -> Exchange:
    contents = body["contents"]
    ((index, call),) = [
        (i, _pick(part, "functionCall", "function_call"))
        for i, content in enumerate(contents)
        for part in content.get("parts", [])
        if _pick(part, "functionCall", "function_call") is not None
    ]
    answer = contents[index + 1]
    assert answer.get("role", "user") == "user", contents
    (response,) = [
        _pick(part, "functionResponse", "function_response")
        for part in answer["parts"]
        if _pick(part, "functionResponse", "function_response") is not None
    ]
    return Exchange(
        call["name"],
        call.get("args", {}),
        call["name"],
        response["name"],
        json.dumps(response.get("response")),
    )


EXCHANGES = {
    "openai": _chat_exchange,
    "openai-responses": _responses_exchange,
    "claude": _claude_exchange,
    "gemini": _gemini_exchange,
}


# ---- what the upstream request asked for in reasoning ---------------------------------------


@dataclass(frozen=True)
class ThinkingAsk:
    """The reasoning an upstream request asks for: an effort level, a budget, whether shown.

    shown is None where the dialect cannot say (Chat, whose reasoning_content is unasked).
    """

    level: str | None
    budget: int | None
    shown: bool | None

    @property
    def on(self) -> bool:
        return (self.budget or 0) > 0 or self.level not in (None, "none", "")


def thinking_ask(dialect: Dialect, body: dict[str, Any]) -> ThinkingAsk:
    if dialect == "openai":
        return ThinkingAsk(body.get("reasoning_effort"), None, None)
    if dialect == "openai-responses":
        reasoning = body.get("reasoning") or {}
        summary = reasoning.get("summary")
        return ThinkingAsk(
            reasoning.get("effort"), None, summary in ("auto", "concise", "detailed")
        )
    if dialect == "claude":
        thinking = body.get("thinking") or {}
        shown = thinking.get("display") != "omitted"
        if thinking.get("type") == "enabled":
            return ThinkingAsk(None, thinking.get("budget_tokens"), shown)
        if thinking.get("type") == "adaptive":
            return ThinkingAsk((body.get("output_config") or {}).get("effort"), None, shown)
        return ThinkingAsk(None, None, False)
    generation = _pick(body, "generationConfig", "generation_config") or {}
    config = _pick(generation, "thinkingConfig", "thinking_config") or {}
    level = _pick(config, "thinkingLevel", "thinking_level")
    return ThinkingAsk(
        level.lower() if isinstance(level, str) else None,
        _pick(config, "thinkingBudget", "thinking_budget"),
        _pick(config, "includeThoughts", "include_thoughts") is True,
    )


def assert_thinking(asked: ThinkingAsk, level: str, budget: int) -> None:
    """The upstream asked for this much reasoning (by budget or by level) and to be shown it."""
    if asked.budget is not None:
        assert asked.budget == budget, asked
    else:
        assert asked.level == level, asked
    assert asked.shown is not False, asked  # else a real upstream would keep the thoughts


def _decoded_image(url: str) -> tuple[str, bytes]:
    head, _, data = url.partition(",")
    assert head.startswith("data:"), url[:80]
    assert head.endswith(";base64"), url[:80]
    # Gemini clients may send URL-safe base64 (protobuf JSON accepts both alphabets).
    standard = data.replace("-", "+").replace("_", "/")
    return head[5:-7], base64.b64decode(standard, validate=True)


# ---- the matrix ------------------------------------------------------------------------------


@CELLS
def test_text(
    client: str, kind: str, stream: bool, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(TEXT), key=upstream.key)
    seen = drivers[client].text(upstream.alias, stream)
    assert (seen.text, seen.finish, seen.calls) == (TEXT, "stop", [])
    sent(fake, upstream)


@CELLS
def test_tool_round_trip(
    client: str, kind: str, stream: bool, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    call = ToolCall(TOOL_NAME, TOOL_ARGUMENTS, id=upstream.call_id)
    fake.script(Reply.ok(tool_calls=[call]), Reply.ok(AFTER_TOOL), key=upstream.key)

    trip = drivers[client].tool_round_trip(upstream.alias, stream)

    assert [(c.name, c.arguments) for c in trip.first.calls] == [(TOOL_NAME, TOOL_ARGUMENTS)]
    assert trip.first.finish == "tool_calls"
    if client != "gemini":  # Gemini pairs by name; the other three clients need the call's id
        assert trip.sent_id
    assert (trip.second.text, trip.second.finish) == (AFTER_TOOL, "stop")

    first, second = sent(fake, upstream, 2)
    assert first.tool_names == second.tool_names == [TOOL_NAME]
    exchange = EXCHANGES[upstream.dialect](second.json)
    assert (exchange.name, exchange.arguments) == (TOOL_NAME, TOOL_ARGUMENTS)
    assert exchange.result_ref == exchange.call_ref
    assert TOOL_RESULT in exchange.result_text
    if upstream.dialect != "gemini" and trip.sent_id:
        # The client's id goes upstream as it is (or mapped back to the upstream's own).
        assert exchange.call_ref in {trip.sent_id, upstream.call_id}


@CELLS
def test_image(
    client: str, kind: str, stream: bool, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(IMAGE_ANSWER), key=upstream.key)
    seen = drivers[client].image(upstream.alias, stream)
    assert (seen.text, seen.finish) == (IMAGE_ANSWER, "stop")

    (request,) = sent(fake, upstream)
    assert len(request.images) == 1, request.images
    assert _decoded_image(request.images[0]) == ("image/png", base64.b64decode(PNG_B64))
    if upstream.dialect != "gemini":
        # Data URLs and Anthropic base64 sources take the standard alphabet only.
        assert request.images == [IMAGE_DATA_URL]


@CELLS
def test_thinking(
    client: str, kind: str, stream: bool, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(THOUGHT_ANSWER, thinking=THOUGHT), key=upstream.key)
    seen = drivers[client].thinking(upstream.alias, stream)
    assert (seen.thinking, seen.text, seen.finish) == (THOUGHT, THOUGHT_ANSWER, "stop")

    (request,) = sent(fake, upstream)
    asked = thinking_ask(upstream.dialect, request.json)
    assert_thinking(asked, ASKED_LEVEL[client], ASKED_BUDGET[client])


# ---- real client shapes ----------------------------------------------------------------------

CLAUDE_CODE_TOOLS = [
    "Task",
    "Bash",
    "Glob",
    "Grep",
    "ExitPlanMode",
    "Read",
    "Edit",
    "Write",
    "NotebookEdit",
    "WebFetch",
    "TodoWrite",
    "WebSearch",
    "BashOutput",
    "KillShell",
    "SlashCommand",
    *(f"mcp__workspace__tool_{n:02d}" for n in range(15)),
]
CLAUDE_CODE_BETAS = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "fine-grained-tool-streaming-2025-05-14",
]
LONG_SYSTEM = "\n".join(
    f"Rule {n}: keep answers short, cite file paths, and never invent tool output."
    for n in range(120)
)


def _claude_code_tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name}: a Claude Code tool. " + "Use it carefully. " * 8,
        "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Absolute path"},
                "limit": {"type": "number"},
                "flags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["path"],
            "additionalProperties": False,
        },
    }


@pytest.mark.parametrize("kind", KINDS)
def test_claude_code_request(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(TEXT, thinking=THOUGHT), key=upstream.key)
    driver = tracked(AnthropicDriver(gateway.base_url, CLIENT_KEY))
    user_id = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": "5e55-10n"})
    system = [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}},
    ]
    messages = [
        {"role": "system", "content": "The working directory is /work/app, branch main."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>Todo list is empty.</system-reminder>"},
                {
                    "type": "text",
                    "text": "Fix the failing test in tests/test_app.py",
                    "cache_control": {"type": "ephemeral"},
                },
            ],
        },
    ]
    seen, _ = driver.ask(
        upstream.alias,
        True,
        messages,
        betas=CLAUDE_CODE_BETAS,
        system=system,
        tools=[_claude_code_tool(name) for name in CLAUDE_CODE_TOOLS],
        thinking={"type": "enabled", "budget_tokens": 31999},
        max_tokens=32000,
        metadata={"user_id": user_id},
    )
    assert (seen.text, seen.thinking, seen.finish) == (TEXT, THOUGHT, "stop")

    (request,) = sent(fake, upstream)
    assert request.tool_names == CLAUDE_CODE_TOOLS
    assert request.system is not None
    for text in ("official CLI for Claude", "Rule 119: keep answers short", "/work/app"):
        assert text in request.system, text
    assert thinking_ask(upstream.dialect, request.json).on
    if upstream.dialect == "claude":
        body = request.json
        # The cached system block keeps its breakpoint; the hoisted system turn follows it, so
        # the cached prefix stays the same.
        cached = [b for b in body["system"] if b.get("cache_control") == {"type": "ephemeral"}]
        assert [b["text"] for b in cached] == [LONG_SYSTEM]
        assert body["system"][-1]["text"] == "The working directory is /work/app, branch main."
        assert body["metadata"] == {"user_id": user_id}
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 31999}
        betas = {b.strip() for b in request.headers.get("anthropic-beta", "").split(",")}
        assert set(CLAUDE_CODE_BETAS) <= betas
        assert {m["role"] for m in body["messages"]} <= {"user", "assistant"}


CODEX_TOOLS = [
    "shell",
    "update_plan",
    "view_image",
    "read_file",
    "list_dir",
    "grep_files",
    "web_fetch",
    "mcp__docs__search",
]


def _codex_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"Codex tool {name}.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"}},
                "workdir": {"type": "string"},
                "timeout_ms": {"type": "number"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    }


@pytest.mark.parametrize("kind", KINDS)
def test_codex_cli_request(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(TEXT, thinking=THOUGHT), key=upstream.key)
    driver = tracked(ResponsesDriver(gateway.base_url, CLIENT_KEY))
    instructions = "You are Codex, based on GPT-5. You are running as a coding agent.\n" * 40
    developer = "<permissions instructions>Sandbox: workspace-write.</permissions instructions>"
    items: list[Any] = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": developer}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "<environment_context>cwd: /work/app</environment_context>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Run the tests and fix what fails."}],
        },
    ]
    seen = driver.ask(
        upstream.alias,
        True,
        items,
        instructions=instructions,
        tools=[_codex_tool(name) for name in CODEX_TOOLS],
        tool_choice="auto",
        parallel_tool_calls=False,
        reasoning={"effort": "medium", "summary": "auto"},
        store=False,
        include=["reasoning.encrypted_content"],
        prompt_cache_key="0199c3f2-codex-session",
    )
    assert (seen.text, seen.thinking, seen.finish) == (TEXT, THOUGHT, "stop")

    (request,) = sent(fake, upstream)
    assert request.tool_names == CODEX_TOOLS
    assert request.system is not None
    assert "running as a coding agent" in request.system
    assert "Sandbox: workspace-write" in request.system
    assert_thinking(thinking_ask(upstream.dialect, request.json), "medium", 8192)
    if upstream.dialect == "openai-responses":
        body = request.json
        assert body["store"] is False
        assert "reasoning.encrypted_content" in body["include"]
        assert body["prompt_cache_key"] == "0199c3f2-codex-session"
        assert body["instructions"] == instructions


GEMINI_CLI_TOOLS = [
    "list_directory",
    "read_file",
    "search_file_content",
    "glob",
    "replace",
    "write_file",
    "web_fetch",
    "read_many_files",
    "run_shell_command",
    "save_memory",
    "google_web_search",
    "write_todos",
    "mcp_github_list_issues",
    "mcp_github_create_pr",
    "mcp_docs_lookup",
]


@pytest.mark.parametrize("kind", KINDS)
def test_gemini_cli_request(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(TEXT, thinking=THOUGHT), key=upstream.key)
    driver = tracked(GeminiDriver(gateway.base_url, CLIENT_KEY))
    system = "You are an interactive CLI agent specializing in software engineering tasks.\n" * 30
    declarations = [
        gtypes.FunctionDeclaration(
            name=name,
            description=f"Gemini CLI tool {name}.",
            parameters_json_schema={
                "type": "object",
                "properties": {"path": {"type": "string"}, "pattern": {"type": "string"}},
                "required": ["path"],
            },
        )
        for name in GEMINI_CLI_TOOLS
    ]
    config = gtypes.GenerateContentConfig(
        system_instruction=system,
        tools=[gtypes.Tool(function_declarations=declarations)],
        thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=8192),
        temperature=0,
        top_p=1,
    )
    contents = [
        gtypes.Content(role="user", parts=[gtypes.Part(text="<session_context>cwd /work/app")]),
        gtypes.Content(role="model", parts=[gtypes.Part(text="Got it. Thanks for the context!")]),
        gtypes.Content(role="user", parts=[gtypes.Part(text="List the files in src.")]),
    ]
    seen, _ = driver.ask(upstream.alias, True, contents, config)
    assert (seen.text, seen.thinking, seen.finish) == (TEXT, THOUGHT, "stop")

    (request,) = sent(fake, upstream)
    assert request.tool_names == GEMINI_CLI_TOOLS
    assert request.system is not None
    assert "interactive CLI agent" in request.system
    assert_thinking(thinking_ask(upstream.dialect, request.json), "medium", 8192)


@pytest.mark.parametrize("kind", KINDS)
def test_gemini_stream_without_sse(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    """`:streamGenerateContent` without `alt=sse` answers one JSON array of chunks."""
    upstream = UPSTREAMS[kind]
    fake.script(Reply.ok(TEXT), key=upstream.key)
    response = httpx.post(
        f"{gateway.base_url}/v1beta/models/{upstream.alias}:streamGenerateContent",
        headers={"x-goog-api-key": CLIENT_KEY},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    chunks = response.json()
    assert isinstance(chunks, list), chunks
    assert chunks
    text = "".join(
        part.get("text", "")
        for chunk in chunks
        for candidate in chunk.get("candidates", [])
        for part in candidate.get("content", {}).get("parts", [])
    )
    assert text == TEXT
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    sent(fake, upstream)


# ---- error mapping ---------------------------------------------------------------------------

ERROR_CELLS = pytest.mark.parametrize(
    ("client", "kind"),
    list(product(CLIENTS, KINDS)),
    ids=[f"{c}-{k}" for c, k in product(CLIENTS, KINDS)],
)
UPSTREAM_400_MESSAGE = "max_tokens: 9999999 exceeds the model limit of 64000"


def _upstream_400(dialect: Dialect) -> dict[str, Any]:
    if dialect == "claude":
        return claude_wire.error_body(400, UPSTREAM_400_MESSAGE)
    if dialect == "gemini":
        return gemini_wire.error_body(400, UPSTREAM_400_MESSAGE)
    return openai_wire.error_body(400, UPSTREAM_400_MESSAGE)


@ERROR_CELLS
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_rate_limit_maps_to_client_dialect(
    client: str, kind: str, stream: bool, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.error(429, retry_after=7), key=upstream.key)
    driver = drivers[client]
    with pytest.raises(driver.rate_limit_error) as caught:
        driver.text(upstream.alias, stream)
    failure = driver.failure(caught.value)
    assert failure.status == 429, failure
    if driver.rate_limit_kind:
        assert failure.kind == driver.rate_limit_kind, failure
    assert len(fake.requests_for(upstream.key)) == 1


@ERROR_CELLS
def test_upstream_bad_request_maps_to_client_dialect(
    client: str, kind: str, fake: FakeUpstream, drivers: dict[str, Driver]
) -> None:
    upstream = UPSTREAMS[kind]
    fake.script(Reply.error(400, _upstream_400(upstream.dialect)), key=upstream.key)
    driver = drivers[client]
    with pytest.raises(driver.bad_request_error) as caught:
        driver.text(upstream.alias, False)
    failure = driver.failure(caught.value)
    assert (failure.status, failure.kind) == (400, driver.bad_request_kind), failure
    assert UPSTREAM_400_MESSAGE in failure.message
    assert len(fake.requests_for(upstream.key)) == 1


# ---- token counting --------------------------------------------------------------------------

# Claude and Gemini APIs count tokens; for the others the gateway estimates.
COUNTED_UPSTREAM = {"claude", "gemini", "vertex"}


@pytest.mark.parametrize("kind", KINDS)
def test_anthropic_count_tokens(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    upstream = UPSTREAMS[kind]
    client = tracked(
        anthropic.Anthropic(
            api_key=CLIENT_KEY, base_url=gateway.base_url, max_retries=0, timeout=20
        )
    )
    raw = client.messages.with_raw_response.count_tokens(
        model=upstream.alias,
        system="You are terse.",
        messages=[{"role": "user", "content": "Count the tokens in this sentence, please."}],
        tools=AnthropicDriver.TOOLS,
    )
    counted = raw.parse().input_tokens
    if kind in COUNTED_UPSTREAM:
        (request,) = fake.requests
        assert (request.key, request.endpoint) == (upstream.key, "count_tokens")
        assert counted == estimate_tokens(request.json)  # the fake's own answer, relayed
        assert "x-token-count" not in raw.headers
    else:
        assert fake.requests == []
        assert raw.headers["x-token-count"] == "estimated"
        assert counted > 0


@pytest.mark.parametrize("kind", KINDS)
def test_gemini_count_tokens(kind: str, fake: FakeUpstream, drivers: dict[str, Driver]) -> None:
    upstream = UPSTREAMS[kind]
    driver = drivers["gemini"]
    assert isinstance(driver, GeminiDriver)
    answer = driver.client.models.count_tokens(
        model=upstream.alias, contents="Count the tokens in this sentence, please."
    )
    headers = answer.sdk_http_response.headers if answer.sdk_http_response else None
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    assert answer.total_tokens is not None
    if kind in COUNTED_UPSTREAM:
        (request,) = fake.requests
        assert (request.key, request.endpoint) == (upstream.key, "count_tokens")
        assert answer.total_tokens == estimate_tokens(request.json)
        assert "x-token-count" not in headers
    else:
        assert fake.requests == []
        assert headers.get("x-token-count") == "estimated"
        assert answer.total_tokens > 0


# ---- legacy completions and embeddings -------------------------------------------------------


def _openai_client(gateway: GatewayProcess) -> openai.OpenAI:
    return tracked(
        openai.OpenAI(
            base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20
        )
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_legacy_completions(stream: bool, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    upstream = UPSTREAMS["openai"]
    fake.script(Reply.ok(TEXT), key=upstream.key)
    client = _openai_client(gateway)
    prompt = "Once upon a time"
    if stream:
        chunks = list(
            client.completions.create(
                model=upstream.alias, prompt=prompt, max_tokens=64, stream=True
            )
        )
        text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
        finish = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
        assert finish == ["stop"]
    else:
        completion = client.completions.create(model=upstream.alias, prompt=prompt, max_tokens=64)
        text = completion.choices[0].text
        assert completion.choices[0].finish_reason == "stop"
    assert text == TEXT
    (request,) = sent(fake, upstream)
    assert prompt in json.dumps(request.json["messages"])


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_embeddings(kind: str, fake: FakeUpstream, gateway: GatewayProcess) -> None:
    model, alias = EMBEDDING_MODELS[kind]
    upstream = UPSTREAMS[kind]
    texts = ["alpha beta", "gamma"]
    result = _openai_client(gateway).embeddings.create(model=alias, input=texts)
    assert [item.index for item in result.data] == [0, 1]
    for item, text in zip(result.data, texts, strict=True):
        assert item.embedding == pytest.approx(embedding_vector(text, len(item.embedding)))
    (request,) = fake.requests
    assert (request.key, request.endpoint, request.model) == (upstream.key, "embeddings", model)
    assert all(text in json.dumps(request.json) for text in texts)
