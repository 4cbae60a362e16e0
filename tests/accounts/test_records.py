"""Auth records -> account records: every type, the generic fields, and broken files."""

from __future__ import annotations

import json
import logging

import pytest

from aiproxyapi.accounts import RecordError, oauth_credentials, parse_record
from aiproxyapi.accounts.records import grant_of
from aiproxyapi.config import parse_config
from aiproxyapi.credential import ProviderKind
from tests.support.oauth_records import record, record_bytes

KINDS = {
    "claude": ProviderKind.CLAUDE_OAUTH,
    "codex": ProviderKind.CODEX_OAUTH,
    "gemini": ProviderKind.GEMINI_CLI,
    "qwen": ProviderKind.QWEN,
    "iflow": ProviderKind.IFLOW,
    "copilot": ProviderKind.COPILOT,
    "vertex": ProviderKind.VERTEX_SA,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_type_parses_into_an_oauth_credential_named_by_its_record(kind: str) -> None:
    parsed = parse_record(f"{kind}-x.json", record_bytes(kind, "tok-9"))
    assert parsed.credential.id == f"{kind}-x.json"
    assert parsed.credential.kind is KINDS[kind]
    assert "tok-9" not in repr(parsed.credential)
    grant = grant_of(parsed.channel, parsed.data)
    if kind == "iflow":
        assert grant.api_key.reveal() == "tok-9"
    elif kind != "vertex":
        assert grant.access_token.reveal() == "tok-9"


def test_gemini_cli_is_accepted_under_both_type_names() -> None:
    for spelling in ("gemini", "gemini-cli"):
        parsed = parse_record("g.json", record_bytes("gemini", type=spelling))
        assert parsed.channel == "gemini-cli"
        assert parsed.credential.projects == ("proj-a",)


def test_generic_fields_and_legacy_kebab_keys() -> None:
    raw = record(
        "claude",
        prefix="team",
        priority=3,
        weight=2,
        headers={"X-Extra": "1"},
        disabled=True,
    )
    raw["proxy-url"] = "socks5://127.0.0.1:1080"
    raw["excluded-models"] = ["*-haiku-*"]
    raw["model-aliases"] = [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}]
    parsed = parse_record("claude-a.json", json.dumps(raw).encode())
    credential = parsed.credential
    assert (credential.prefix, credential.priority, credential.weight) == ("team", 3, 2)
    assert credential.proxy_url == "socks5://127.0.0.1:1080"
    assert credential.headers == (("X-Extra", "1"),)
    assert credential.excluded_models == ("*-haiku-*",)
    assert parsed.aliases == (("claude-sonnet-4-5-20250929", "sonnet"),)
    assert parsed.disabled is True
    assert credential.label == "a@b.com"


def test_provider_specific_fields() -> None:
    codex = parse_record("codex.json", record_bytes("codex")).credential
    assert codex.account_id == "acct-123"
    qwen = parse_record("q.json", record_bytes("qwen", resource_url="chat.example.cn")).credential
    assert qwen.base_url == "https://chat.example.cn/v1"
    several = parse_record("g.json", record_bytes("gemini", project_id="p1, p2,p3")).credential
    assert several.projects == ("p1", "p2", "p3")
    vertex = parse_record("v.json", record_bytes("vertex")).credential
    assert (vertex.projects, vertex.location) == (("proj-v",), "us-central1")
    assert vertex.label == "sa@proj-v.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"access_token": "sekrit-value"}', "no `type` field"),
        (b'{"type": "mystery", "access_token": "sekrit-value"}', "unknown type"),
        (b'{"type": "claude", "email": "a@b"}', "no access token"),
        (b'{"type": "claude", "access_token": "sekrit-value", "weight": "x"}', "`weight`"),
        (b'{"type": "vertex", "service_account": {"client_email": "x"}}', "private_key"),
    ],
)
@pytest.mark.invariant(4)
def test_broken_records_say_what_is_wrong_without_quoting_secrets(raw: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message) as caught:
        parse_record("bad.json", raw)
    assert "sekrit-value" not in str(caught.value)


def test_channel_rules_of_the_config_shape_the_served_models() -> None:
    config = parse_config(
        "oauth-model-alias:\n"
        "  claude:\n"
        "    - {name: claude-sonnet-4-5-20250929, alias: sonnet}\n"
        "    - {name: claude-opus-4-1-20250805, alias: opus, fork: true}\n"
        "oauth-model-mappings:\n"
        "  codex:\n"
        "    - {name: gpt-5-codex, alias: codex}\n"
        "oauth-excluded-models:\n"
        "  claude: ['*-haiku-*']\n"
    ).config
    claude = parse_record("c.json", record_bytes("claude"))
    codex = parse_record("x.json", record_bytes("codex"))
    disabled = parse_record("d.json", record_bytes("qwen", disabled=True))
    by_id = {c.id: c for c in oauth_credentials([claude, codex, disabled], config)}
    assert set(by_id) == {"c.json", "x.json"}
    models = dict(by_id["c.json"].models)
    assert models["sonnet"] == "claude-sonnet-4-5-20250929"
    assert "claude-sonnet-4-5-20250929" not in models  # an alias without fork replaces
    assert models["opus"] == models["claude-opus-4-1-20250805"] == "claude-opus-4-1-20250805"
    assert by_id["c.json"].excluded_models == ("*-haiku-*",)
    assert dict(by_id["x.json"].models)["codex"] == "gpt-5-codex"


def test_the_records_own_aliases_come_before_the_channels() -> None:
    config = parse_config(
        "oauth-model-alias:\n  claude:\n    - {name: claude-sonnet-4-5-20250929, alias: cfg}\n"
    ).config
    raw = record_bytes(
        "claude", model_aliases=[{"name": "claude-sonnet-4-5-20250929", "alias": "mine"}]
    )
    (credential,) = oauth_credentials([parse_record("c.json", raw)], config)
    names = dict(credential.models)
    assert names["mine"] == "claude-sonnet-4-5-20250929"
    assert "cfg" not in names


def test_channels_without_accounts_here_are_accepted_as_cliproxyapi_writes_them() -> None:
    config = parse_config(
        "oauth-excluded-models:\n  antigravity: ['x']\n"
        "oauth-model-alias:\n  kimi:\n    - {name: k2, alias: k}\n"
    ).config
    assert config.channel_excluded("antigravity") == ("x",)
    assert config.channel_aliases("claude") == ()


def test_a_broken_record_is_logged_by_name_only(caplog: pytest.LogCaptureFixture) -> None:
    from aiproxyapi.accounts import AccountBook
    from aiproxyapi.pool import PoolState

    book = AccountBook(None, PoolState(), None, client_for=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="aiproxyapi.accounts"):
        assert (
            book.upsert("claude-x.json", b'{"type": "claude", "refresh_token": "sekrit"}') is False
        )
    assert "claude-x.json" in caplog.text
    assert "sekrit" not in caplog.text
    assert book.records() == []
