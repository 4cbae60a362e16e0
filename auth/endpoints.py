"""Every URL the login and refresh flows call, and the public OAuth clients they present.

One table: each endpoint has a key (``claude.token``), a default (the provider's real URL) and an
environment variable that overrides it (``AIPROXYAPI_CLAUDE_TOKEN_URL``), so tests and private
deployments can point any flow at another server. The README's "Account logins" section lists the
same table. The client ids and scopes are the public installed-app clients of the providers' own
CLIs (Claude Code, Codex CLI, Gemini CLI, Qwen Code, iFlow CLI, the Copilot editor plugins);
they identify the application, not the user, and are published in those CLIs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["CLIENTS", "ENDPOINTS", "Client", "Endpoint", "env_name", "url"]


@dataclass(frozen=True)
class Endpoint:
    """One URL a flow calls: its default and what it is for."""

    key: str
    default: str
    purpose: str

    @property
    def env(self) -> str:
        """The environment variable that overrides the default."""
        return env_name(self.key)


def env_name(key: str) -> str:
    """``claude.token`` -> ``AIPROXYAPI_CLAUDE_TOKEN_URL``: the one naming scheme."""
    return "AIPROXYAPI_" + key.replace(".", "_").replace("-", "_").upper() + "_URL"


_TABLE = (
    Endpoint("claude.authorize", "https://claude.ai/oauth/authorize", "Claude authorization page"),
    Endpoint(
        "claude.token", "https://platform.claude.com/v1/oauth/token", "Claude token and refresh"
    ),
    Endpoint(
        "claude.profile", "https://api.anthropic.com/api/oauth/profile", "Claude account profile"
    ),
    Endpoint(
        "codex.authorize", "https://auth.openai.com/oauth/authorize", "Codex authorization page"
    ),
    Endpoint("codex.token", "https://auth.openai.com/oauth/token", "Codex token and refresh"),
    Endpoint(
        "codex.device-code",
        "https://auth.openai.com/api/accounts/deviceauth/usercode",
        "Codex device code",
    ),
    Endpoint(
        "codex.device-token",
        "https://auth.openai.com/api/accounts/deviceauth/token",
        "Codex device authorization poll",
    ),
    Endpoint(
        "codex.device-verify",
        "https://auth.openai.com/codex/device",
        "Codex page to enter the code",
    ),
    Endpoint(
        "codex.device-callback",
        "https://auth.openai.com/deviceauth/callback",
        "redirect_uri of the Codex device-code exchange",
    ),
    Endpoint(
        "gemini.authorize",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "Google authorization page (Gemini CLI)",
    ),
    Endpoint("gemini.token", "https://oauth2.googleapis.com/token", "Google token and refresh"),
    Endpoint(
        "gemini.userinfo", "https://www.googleapis.com/oauth2/v2/userinfo", "Google account email"
    ),
    Endpoint(
        "gemini.code-assist",
        "https://cloudcode-pa.googleapis.com",
        "Code Assist base: v1internal:loadCodeAssist / :onboardUser",
    ),
    Endpoint(
        "gemini.projects",
        "https://cloudresourcemanager.googleapis.com/v1/projects",
        "Google Cloud project list (--project_id ALL)",
    ),
    Endpoint(
        "qwen.device-code", "https://chat.qwen.ai/api/v1/oauth2/device/code", "Qwen device code"
    ),
    Endpoint("qwen.token", "https://chat.qwen.ai/api/v1/oauth2/token", "Qwen token and refresh"),
    Endpoint("iflow.authorize", "https://iflow.cn/oauth", "iFlow authorization page"),
    Endpoint("iflow.token", "https://iflow.cn/oauth/token", "iFlow token and refresh"),
    Endpoint(
        "iflow.userinfo", "https://iflow.cn/api/oauth/getUserInfo", "iFlow account and API key"
    ),
    Endpoint("copilot.device-code", "https://github.com/login/device/code", "GitHub device code"),
    Endpoint(
        "copilot.token", "https://github.com/login/oauth/access_token", "GitHub device token poll"
    ),
    Endpoint("copilot.user", "https://api.github.com/user", "GitHub account login"),
    Endpoint(
        "copilot.api-token",
        "https://api.github.com/copilot_internal/v2/token",
        "Copilot API token exchange (runtime)",
    ),
    Endpoint(
        "vertex.token",
        "https://oauth2.googleapis.com/token",
        "service-account token minting (Vertex; else the key file's token_uri)",
    ),
)

#: Every endpoint by key.
ENDPOINTS: dict[str, Endpoint] = {e.key: e for e in _TABLE}


def url(key: str) -> str:
    """The URL to call for ``key``: its environment override when set, else the default."""
    endpoint = ENDPOINTS[key]
    return os.environ.get(endpoint.env) or endpoint.default


@dataclass(frozen=True)
class Client:
    """A provider's public OAuth client and its local callback."""

    client_id: str
    scope: str
    client_secret: str | None = None
    callback_port: int | None = None
    callback_path: str = "/callback"


#: The public clients, by provider.
CLIENTS: dict[str, Client] = {
    "claude": Client(
        "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "org:create_api_key user:profile user:inference",
        callback_port=54545,
        callback_path="/callback",
    ),
    "codex": Client(
        "app_EMoamEEZ73f0CkXaXp7hrann",
        "openid email profile offline_access",
        callback_port=1455,
        callback_path="/auth/callback",
    ),
    # An installed-app client: Google treats its secret as public (RFC 8252 §8.5).
    "gemini": Client(
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
        "https://www.googleapis.com/auth/cloud-platform "
        "https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/userinfo.profile",
        client_secret="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",  # noqa: S106 - public client
        callback_port=8085,
        callback_path="/oauth2callback",
    ),
    "qwen": Client("f0304373b74a44d2b584a3fb70ca9e56", "openid profile email model.completion"),
    "iflow": Client(
        "10009311001",
        "",
        client_secret="4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW",  # noqa: S106 - public client
        callback_port=11451,
        callback_path="/oauth2callback",
    ),
    "copilot": Client("Iv1.b507a08c87ecfe98", "read:user"),
    "vertex": Client("", "https://www.googleapis.com/auth/cloud-platform"),
}
