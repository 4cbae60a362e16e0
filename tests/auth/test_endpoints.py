"""The endpoint table: one naming scheme, every override honoured, the README in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auth.endpoints import CLIENTS, ENDPOINTS, env_name, url

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_endpoint_follows_the_naming_scheme() -> None:
    for key, endpoint in ENDPOINTS.items():
        assert endpoint.env == env_name(key)
        assert re.fullmatch(r"AIPROXYAPI_[A-Z]+(_[A-Z]+)+_URL", endpoint.env), endpoint.env
        assert endpoint.default.startswith("https://")
    assert len({e.env for e in ENDPOINTS.values()}) == len(ENDPOINTS)


def test_an_environment_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIPROXYAPI_CLAUDE_TOKEN_URL", raising=False)
    assert url("claude.token") == "https://platform.claude.com/v1/oauth/token"
    monkeypatch.setenv("AIPROXYAPI_CLAUDE_TOKEN_URL", "http://127.0.0.1:1/token")
    assert url("claude.token") == "http://127.0.0.1:1/token"


def test_the_readme_lists_every_endpoint_once() -> None:
    text = README.read_text("utf-8")
    section = text.split("## Account logins", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(AIPROXYAPI_\w+)` \| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert dict(rows) == {e.env: e.default for e in ENDPOINTS.values()}
    assert len(rows) == len(ENDPOINTS)


def test_authorization_code_providers_have_their_usual_callback_ports() -> None:
    ports = {name: c.callback_port for name, c in CLIENTS.items() if c.callback_port}
    assert ports == {"claude": 54545, "codex": 1455, "gemini": 8085, "iflow": 11451}
