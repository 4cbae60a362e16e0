"""OAuth accounts end to end: records in auth-dir serve clients, join and leave live, renew on 401.

Every upstream URL the gateway calls for these accounts points at one fake upstream through the
`AIPROXYAPI_<PROVIDER>_<WHAT>_URL` variables; the clients are the official SDKs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.support.configs import CLIENT_KEY, gateway_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.oauth_records import record
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

CONFIG = gateway_config()


def upstream_env(up: FakeUpstream) -> dict[str, str]:
    """Every OAuth upstream of the gateway, on the fake."""
    return {
        "AIPROXYAPI_CLAUDE_API_URL": up.root_url,
        "AIPROXYAPI_CODEX_API_URL": up.codex_base_url,
        "AIPROXYAPI_GEMINI_CODE_ASSIST_URL": up.root_url,
        "AIPROXYAPI_QWEN_API_URL": up.base_url,
        "AIPROXYAPI_IFLOW_API_URL": up.base_url,
        "AIPROXYAPI_COPILOT_API_TOKEN_URL": f"{up.root_url}/copilot_internal/v2/token",
        "AIPROXYAPI_VERTEX_API_URL": up.root_url,
        "AIPROXYAPI_VERTEX_TOKEN_URL": f"{up.root_url}/vertex/token",
    }


def drop(auth_dir: Path, name: str, data: dict[str, object]) -> None:
    """Place a record in auth-dir the way an operator's copy lands: whole, in one rename."""
    auth_dir.mkdir(parents=True, exist_ok=True)
    temp = auth_dir.parent / f".{name}.tmp"
    temp.write_text(json.dumps(data, indent=2))
    os.replace(temp, auth_dir / name)


def models(base_url: str) -> set[str]:
    response = httpx.get(
        f"{base_url}/v1/models", headers={"authorization": f"Bearer {CLIENT_KEY}"}, timeout=5
    )
    return {m["id"] for m in response.json()["data"]}


def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Whether predicate() comes true within timeout; an exception counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (httpx.HTTPError, openai.APIError):
            pass
        time.sleep(0.1)
    return predicate()


def chat(base_url: str, model: str, *, stream: bool = False) -> str:
    client = tracked(
        openai.OpenAI(base_url=f"{base_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    )
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi"}
    ]
    if stream:
        pieces = client.chat.completions.create(model=model, messages=messages, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
    answer = client.chat.completions.create(model=model, messages=messages)
    return answer.choices[0].message.content or ""


# (record type, model to ask for, the credential the fake must see: a token or a prefix)
SERVED = [
    ("claude", "claude-sonnet-4-5-20250929", "tok-claude"),
    ("codex", "gpt-5-codex", "tok-codex"),
    ("gemini", "gemini-2.5-pro", "tok-gemini"),
    ("qwen", "qwen3-coder-plus", "tok-qwen"),
    ("iflow", "kimi-k2", "tok-iflow"),
    ("copilot", "gpt-4.1", "copilot-tok-copilot-"),
    ("vertex", "gemini-2.5-flash", "vertex-sa@proj-v.iam.gserviceaccount.com-"),
]


@pytest.mark.parametrize(("kind", "model", "presented"), SERVED, ids=[s[0] for s in SERVED])
def test_a_client_request_is_served_with_the_records_token(
    kind: str,
    model: str,
    presented: str,
    fake_upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
) -> None:
    drop(tmp_path / "auths", f"{kind}-a.json", record(kind, f"tok-{kind}"))
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    assert chat(gateway.base_url, model).startswith("hello from key")
    assert chat(gateway.base_url, model, stream=True).startswith("hello from key")
    generations = [r for r in fake_upstream.requests if r.endpoint == "generate"]
    assert len(generations) == 2, gateway.log_text()
    for sent in generations:
        assert sent.key is not None
        assert sent.key.startswith(presented), sent.key
        assert sent.rejected is None
    if kind == "gemini":
        assert generations[0].json["project"] == "proj-a"
        assert generations[0].path == "/v1internal:generateContent"
    if kind == "claude":
        assert "oauth-2025-04-20" in generations[0].headers["anthropic-beta"]
        assert generations[0].query == "beta=true"
    if kind == "codex":
        assert generations[0].headers["chatgpt-account-id"] == "acct-123"
    if kind == "vertex":
        assert generations[0].path.startswith("/v1/projects/proj-v/locations/us-central1/")
    assert f"tok-{kind}" not in gateway.log_text()


def test_other_client_dialects_reach_oauth_accounts(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    drop(tmp_path / "auths", "codex-a.json", record("codex", "tok-codex"))
    drop(tmp_path / "auths", "gemini-a.json", record("gemini", "tok-gemini"))
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    claude = tracked(
        anthropic.Anthropic(base_url=gateway.base_url, api_key=CLIENT_KEY, max_retries=0)
    )
    message = claude.messages.create(
        model="gpt-5-codex", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("hello from key")
    google = genai.Client(
        api_key=CLIENT_KEY,
        http_options=genai_types.HttpOptions(
            base_url=gateway.base_url,
            api_version="v1beta",
            timeout=20_000,
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )
    try:
        answer = google.models.generate_content(model="gemini-2.5-pro", contents="hi")
        assert (answer.text or "").startswith("hello from key")
        counted = google.models.count_tokens(model="gemini-2.5-pro", contents="hi")
        assert (counted.total_tokens or 0) > 0
    finally:
        google.close()
    paths = [r.path for r in fake_upstream.requests]
    assert "/backend-api/codex/responses" in paths
    assert "/v1internal:countTokens" in paths


def test_records_join_and_leave_the_pool_live(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    auth_dir = tmp_path / "auths"
    assert "claude-sonnet-4-5-20250929" not in models(gateway.base_url)
    drop(auth_dir, "claude-a.json", record("claude", "tok-live", prefix="team"))
    assert eventually(lambda: "team/claude-sonnet-4-5-20250929" in models(gateway.base_url)), (
        gateway.log_text()
    )
    assert chat(gateway.base_url, "team/claude-sonnet-4-5-20250929").startswith("hello")
    assert fake_upstream.requests[-1].key == "tok-live"
    # Edited by hand: the new token is read again.
    drop(auth_dir, "claude-a.json", record("claude", "tok-edited", prefix="team"))
    assert eventually(lambda: _serves_with(gateway.base_url, fake_upstream, "tok-edited")), (
        gateway.log_text()
    )
    (auth_dir / "claude-a.json").unlink()
    assert eventually(lambda: "team/claude-sonnet-4-5-20250929" not in models(gateway.base_url)), (
        gateway.log_text()
    )
    assert eventually(lambda: "auth record claude-a.json left the pool" in gateway.log_text())


def _serves_with(base_url: str, up: FakeUpstream, token: str) -> bool:
    chat(base_url, "claude-sonnet-4-5-20250929")
    return up.requests[-1].key == token


def test_a_broken_record_is_skipped_with_its_name_and_the_rest_serve(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    auth_dir = tmp_path / "auths"
    drop(auth_dir, "qwen-a.json", record("qwen", "tok-qwen"))
    auth_dir.joinpath("claude-broken.json").write_text('{"type": "claude", "refresh_token": "r-x')
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    assert chat(gateway.base_url, "qwen3-coder-plus").startswith("hello")
    log = gateway.log_text()
    assert "auth record claude-broken.json skipped: not valid JSON" in log
    assert "r-x" not in log


def test_a_401_renews_the_token_and_retries_once(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    drop(tmp_path / "auths", "copilot-a.json", record("copilot", "gh"))
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    fake_upstream.script(Reply.error(401))
    assert chat(gateway.base_url, "gpt-4.1").startswith("hello from key")
    generations = [r for r in fake_upstream.requests if r.endpoint == "generate"]
    exchanges = [r for r in fake_upstream.requests if r.endpoint == "token"]
    assert [r.reply.status if r.reply else None for r in generations] == [401, 200]
    assert generations[0].key != generations[1].key  # a renewed Copilot token
    assert len(exchanges) == 2


def test_usage_lists_the_accounts_with_their_state(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    drop(tmp_path / "auths", "claude-a.json", record("claude", "tok-claude"))
    drop(tmp_path / "auths", "qwen-off.json", record("qwen", "tok-qwen", disabled=True))
    gateway = gateway_factory(CONFIG, env=upstream_env(fake_upstream))
    body = httpx.get(f"{gateway.base_url}/usage", timeout=5).json()
    rows = {row["id"]: row for row in body["credentials"]}
    assert rows["claude-a.json"]["state"] == "active"
    assert rows["claude-a.json"]["type"] == "claude"
    assert rows["qwen-off.json"]["disabled"] is True
    assert "tok-claude" not in json.dumps(body)
    assert "qwen3-coder-plus" not in models(gateway.base_url)  # disabled: not served
