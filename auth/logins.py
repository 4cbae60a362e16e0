"""The login flows by name, for every caller (CLI flags, the management API).

``new_login("claude", client=..., store=...)`` returns a :class:`~auth.flow.LoginFlow`; the
caller starts it, shows the step, and waits. Vertex has no flow: its key file is imported with
:func:`~auth.providers.vertex.import_service_account`.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow, LoginFlow, Progress
from auth.providers.claude import ClaudeLogin
from auth.providers.codex import CodexDeviceLogin, CodexLogin
from auth.providers.copilot import CopilotLogin
from auth.providers.gemini import GeminiLogin
from auth.providers.iflow import IFlowLogin
from auth.providers.qwen import QwenLogin
from storage import Store

__all__ = ["LOGINS", "new_login"]

#: Flow classes by login name.
LOGINS: dict[str, type[LoginFlow]] = {
    "claude": ClaudeLogin,
    "codex": CodexLogin,
    "codex-device": CodexDeviceLogin,
    "gemini": GeminiLogin,
    "qwen": QwenLogin,
    "iflow": IFlowLogin,
    "copilot": CopilotLogin,
}


def new_login(
    name: str,
    *,
    client: httpx.AsyncClient,
    store: Store,
    progress: Progress | None = None,
    callback_port: int | None = None,
    timeout: float | None = None,
    project_id: str | None = None,
) -> LoginFlow:
    """A new, unstarted flow; options a flow kind does not take are refused."""
    try:
        kind = LOGINS[name]
    except KeyError:
        raise AuthFlowError(f"unknown login {name!r}; known: {', '.join(LOGINS)}") from None
    options: dict[str, Any] = {"client": client, "store": store, "progress": progress}
    if issubclass(kind, AuthCodeFlow):
        options["callback_port"] = callback_port
        if timeout is not None:
            options["timeout"] = timeout
    elif callback_port is not None:
        raise AuthFlowError(f"the {name} login is a device flow; it takes no callback port")
    elif timeout is not None:
        options["max_wait"] = timeout
    if project_id is not None:
        if kind is not GeminiLogin:
            raise AuthFlowError("--project_id goes with --login (Gemini CLI) only")
        options["project_id"] = project_id
    return kind(**options)
