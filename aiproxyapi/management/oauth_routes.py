"""Account logins started from the management API, on the flows of `auth.logins`.

`GET /<provider>-auth-url` starts a flow and answers what the user must do: a browser URL
(`{status, url, state}`) or a device code (`{status, url, state, flow: "device", user_code,
expires_in}`). `GET /get-auth-status?state=` answers `wait`, `ok` or `error`;
`DELETE /oauth-session?state=` cancels. A browser flow listens on its provider's registered
callback port when it is free; either way the redirect URL can be pasted to
`/oauth-callback`, which needs no management key (the flow's own state authenticates it).
The finished record is written by the flow through `Gateway.store`.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Response, delete, get, post
from litestar.handlers import HTTPRouteHandler

from aiproxyapi.executors.http import UpstreamTimeouts
from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import (
    ManagementError,
    MgmtRequest,
    decode_json,
    json_response,
    ok,
    read_body,
)
from aiproxyapi.management.context import context_of
from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow, DeviceStep, FlowStatus, LoginFlow
from auth.logins import new_login

__all__ = ["START_ROUTES", "callback_handlers", "login_handlers"]

#: Route name → login name of `auth.logins`.
START_ROUTES = {
    "anthropic-auth-url": "claude",
    "codex-auth-url": "codex",
    "gemini-cli-auth-url": "gemini",
    "qwen-auth-url": "qwen",
    "iflow-auth-url": "iflow",
    "copilot-auth-url": "copilot",
}
_MAX_PENDING = 16


def _client(gateway: Gateway) -> Any:
    config = gateway.runtime.config
    return gateway.clients.get(config.proxy_url, "", UpstreamTimeouts(connect=10.0, idle=60.0))


async def _start(gateway: Gateway, login: str, project_id: str | None) -> tuple[LoginFlow, Any]:
    """Start a flow, listening on the provider's callback port when it is free."""
    options: dict[str, Any] = {"client": _client(gateway), "store": gateway.store}
    if project_id:
        options["project_id"] = project_id
    flow = new_login(login, **options)
    if not isinstance(flow, AuthCodeFlow):
        return flow, await flow.start()
    try:
        return flow, await flow.start()
    except AuthFlowError:
        # The port is taken (another login, another program): the redirect is pasted instead.
        flow = new_login(login, **options)
        assert isinstance(flow, AuthCodeFlow)
        return flow, await flow.start(listen=False)


def _start_handler(route: str, login: str) -> HTTPRouteHandler:
    async def start(request: MgmtRequest) -> Response[bytes]:
        context = context_of(request)
        sessions = context.logins
        if sessions.pending() >= _MAX_PENDING:
            raise ManagementError(429, "too many logins in progress", "finish or cancel one first")
        device = login == "codex" and request.query_params.get("device", "") in ("1", "true")
        project = request.query_params.get("project_id") if login == "gemini" else None
        try:
            flow, step = await _start(context.gateway, "codex-device" if device else login, project)
        except AuthFlowError as exc:
            raise ManagementError(502, "login_failed", str(exc)) from None
        if isinstance(step, DeviceStep):
            state = f"{login}-{secrets.token_urlsafe(12)}"
            sessions.add(state, flow)
            return json_response(
                {
                    "status": "ok",
                    "url": step.verification_url_complete or step.verification_url,
                    "verification_url": step.verification_url,
                    "state": state,
                    "flow": "device",
                    "user_code": step.user_code,
                    "expires_in": int(step.expires_in),
                }
            )
        sessions.add(step.state, flow)
        return json_response({"status": "ok", "url": step.url, "state": step.state})

    return get(f"/{route}", name=f"mgmt_{route.replace('-', '_')}")(start)


def login_handlers() -> list[HTTPRouteHandler]:
    """The login starts, the status poll and the cancel route (behind the guard)."""
    return [
        *(_start_handler(route, login) for route, login in START_ROUTES.items()),
        auth_status,
        cancel_login,
    ]


@get("/get-auth-status")
async def auth_status(request: MgmtRequest) -> Response[bytes]:
    """`wait`, `ok` or `error` (with the reason) for the login of `?state=`."""
    state = request.query_params.get("state", "")
    sessions = context_of(request).logins
    flow = sessions.get(state)
    if flow is None:
        error = ManagementError(404, "unknown state", "start the login again")
        error.body["status"] = "error"
        raise error
    if flow.status is FlowStatus.WAIT:
        return json_response({"status": "wait"})
    sessions.drop(state)
    if flow.status is FlowStatus.OK and flow.result is not None:
        return json_response(
            {"status": "ok", "name": flow.result.name, "account": flow.result.account}
        )
    return json_response({"status": "error", "error": flow.reason or "the login failed"})


@delete("/oauth-session", status_code=200)
async def cancel_login(request: MgmtRequest) -> Response[bytes]:
    """Cancel the login of `?state=`."""
    flow = context_of(request).logins.drop(request.query_params.get("state", ""))
    if flow is None:
        raise ManagementError(404, "unknown state")
    await flow.cancel()
    return ok()


async def _redirect_url(request: MgmtRequest) -> str:
    raw = request.query_params.get("redirect_url")
    if raw:
        return str(raw)
    if request.method == "POST":
        body = await read_body(request, 64 * 1024)
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media == "application/json":
            value = decode_json(body)
            url = value.get("redirect_url") if isinstance(value, dict) else None
            if isinstance(url, str):
                return url
        elif body:
            return body.decode("utf-8", "replace").strip()
    if "state" in request.query_params:  # the provider's redirect itself, forwarded here
        return str(request.url)
    raise ManagementError(400, "missing redirect_url", "paste the URL the browser was sent to")


async def _callback(request: MgmtRequest) -> Response[bytes]:
    """Finish a browser login with the redirect URL (pasted); the state must match a login."""
    url = await _redirect_url(request)
    state = {k: v[-1] for k, v in parse_qs(urlsplit(url.strip()).query).items()}.get("state", "")
    sessions = context_of(request).logins
    flow = sessions.get(state) if state else None
    if not isinstance(flow, AuthCodeFlow):
        raise ManagementError(400, "unknown or expired state", "start the login again")
    try:
        flow.submit_callback(url)
    except AuthFlowError as exc:
        raise ManagementError(400, "callback_refused", str(exc)) from None
    return ok(state=state)


def callback_handlers() -> list[HTTPRouteHandler]:
    """`/oauth-callback` (GET and POST): no management key, the login's state authenticates."""
    return [
        get("/oauth-callback", name="mgmt_oauth_callback_get")(_callback),
        post("/oauth-callback", name="mgmt_oauth_callback_post", status_code=200)(_callback),
    ]
