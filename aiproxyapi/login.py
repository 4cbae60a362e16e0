"""The login commands of the CLI: run one account login in the terminal and report it.

``--claude-login``, ``--codex-login``, ``--codex-device-login``, ``--login [--project_id ID]``,
``--qwen-login``, ``--iflow-login``, ``--copilot-login`` and ``--vertex-import FILE``. The flows
themselves live in ``auth``; this module opens the browser (unless ``--no-browser`` or there is
no display), prints the URL or the device code, accepts a pasted callback URL on stdin, and
turns every failure into one line saying what went wrong and what to do (exit code 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

from aiproxyapi.config import Config, ConfigError, load_config

if TYPE_CHECKING:  # the login machinery loads only when a login runs, never for serving
    from auth.flow import AuthCodeFlow, BrowserStep, DeviceStep, LoginFlow
    from storage import Store

__all__ = ["add_login_arguments", "chosen_login", "run_login"]

#: argparse destination -> login name in ``auth.logins``.
_FLAGS = {
    "claude_login": ("claude", "log in to a Claude (Claude Code) subscription"),
    "codex_login": ("codex", "log in to a ChatGPT plan for Codex (browser)"),
    "codex_device_login": ("codex-device", "log in to a ChatGPT plan for Codex (device code)"),
    "login": ("gemini", "log in to Google for Gemini CLI / Code Assist"),
    "qwen_login": ("qwen", "log in to Qwen (device code)"),
    "iflow_login": ("iflow", "log in to iFlow"),
    "copilot_login": ("copilot", "log in to GitHub for Copilot (device code)"),
}
_HTTP_TIMEOUT = 30.0


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    """The login flags and their options."""
    group = parser.add_argument_group("account logins (each writes one auth record to auth-dir)")
    which = group.add_mutually_exclusive_group()
    for dest, (_name, text) in _FLAGS.items():
        which.add_argument("--" + dest.replace("_", "-"), dest=dest, action="store_true", help=text)
    which.add_argument(
        "--vertex-import", metavar="FILE", help="import a Google service-account key for Vertex"
    )
    group.add_argument(
        "--project_id", metavar="ID", help="with --login: a project, a comma list, or ALL"
    )
    group.add_argument("--vertex-import-prefix", metavar="P", help="model prefix of the import")
    group.add_argument(
        "--no-browser", action="store_true", help="print the URL instead of opening a browser"
    )
    group.add_argument(
        "--oauth-callback-port", type=int, metavar="N", help="local port of the login callback"
    )


def chosen_login(args: argparse.Namespace) -> str | None:
    """The login the arguments ask for, or None when the gateway should serve."""
    if args.vertex_import:
        return "vertex"
    return next((name for dest, (name, _) in _FLAGS.items() if getattr(args, dest)), None)


def _fail(message: str) -> int:
    print(f"aiproxyapi: {message}", file=sys.stderr, flush=True)
    return 1


def _config(explicit: str | None) -> tuple[Config, Path]:
    if explicit is not None:
        return load_config(Path(explicit)).config, Path(explicit)
    path = Path.cwd() / "config.yaml"
    if path.is_file():
        return load_config(path).config, path
    return Config(), path


def run_login(args: argparse.Namespace) -> int:
    """Run the chosen login; the process exit code."""
    name = chosen_login(args)
    assert name is not None
    if args.project_id is not None and name != "gemini":
        return _fail("--project_id goes with --login (Gemini CLI) only")
    try:
        config, config_path = _config(args.config)
    except ConfigError as exc:
        print(f"aiproxyapi: config error: {exc}", file=sys.stderr)
        return 2
    from storage import FileStore

    store = FileStore(Path(config.auth_dir).expanduser(), config_path)
    try:
        if name == "vertex":
            try:
                data = Path(args.vertex_import).read_bytes()
            except OSError as exc:
                return _fail(
                    f"cannot read {args.vertex_import} ({exc.strerror}); "
                    "pass the path of the service-account key JSON"
                )
            return asyncio.run(_vertex(data, args.vertex_import_prefix, store))
        return asyncio.run(_login(name, args, store, config.proxy_url or None))
    except KeyboardInterrupt:
        print("\naiproxyapi: login cancelled; nothing was written", file=sys.stderr)
        return 130


async def _vertex(data: bytes, prefix: str | None, store: Store) -> int:
    from auth.errors import AuthFlowError
    from auth.providers.vertex import import_service_account

    try:
        result = await import_service_account(data, store=store, prefix=prefix)
    except AuthFlowError as exc:
        return _fail(f"vertex import failed: {exc}")
    print(f"Imported the service account {result.account}.\nRecord stored at {result.where}")
    return 0


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _progress(line: str) -> None:
    print(f"  ... {line}", file=sys.stderr, flush=True)


async def _login(name: str, args: argparse.Namespace, store: Store, proxy: str | None) -> int:
    import httpx

    from auth.errors import AuthFlowError
    from auth.flow import AuthCodeFlow, BrowserStep
    from auth.logins import LOGINS, new_login

    # Device flows have no callback: the port option is meaningless for them, not an error.
    port = args.oauth_callback_port if issubclass(LOGINS[name], AuthCodeFlow) else None
    async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT, proxy=proxy) as client:
        try:
            flow = new_login(
                name,
                client=client,
                store=store,
                progress=_progress,
                callback_port=port,
                project_id=args.project_id,
            )
            step = await flow.start()
        except AuthFlowError as exc:
            return _fail(f"{name} login failed: {exc}")
        try:
            if isinstance(step, BrowserStep):
                _show_browser_step(flow, step, no_browser=args.no_browser)
            else:
                _show_device_step(step, no_browser=args.no_browser)
            result = await flow.wait()
        except AuthFlowError as exc:
            return _fail(f"{flow.label} login failed: {exc}")
        finally:
            await flow.cancel()
    print(f"Logged in to {flow.label} as {result.account}.\nRecord stored at {result.where}")
    return 0


def _show_browser_step(flow: LoginFlow, step: BrowserStep, *, no_browser: bool) -> None:
    opened = False
    if not no_browser and not _headless():
        opened = webbrowser.open(step.url)
    print(f"Open this URL to log in to {flow.label}:\n{step.url}", flush=True)
    if opened:
        print("(a browser window was opened for it)", flush=True)
        return
    port = step.callback_port
    from auth.flow import AuthCodeFlow

    print(
        f"Waiting for the redirect to {step.redirect_uri}. On a remote host, forward the port "
        f"first (ssh -L {port}:127.0.0.1:{port} user@host), or paste the URL the browser "
        "ends up on here and press Enter:",
        flush=True,
    )
    assert isinstance(flow, AuthCodeFlow)
    _read_pasted_callbacks(flow)


def _show_device_step(step: DeviceStep, *, no_browser: bool) -> None:
    target = step.verification_url_complete or step.verification_url
    print(f"Open {step.verification_url} and enter the code: {step.user_code}", flush=True)
    if not no_browser and not _headless():
        webbrowser.open(target)
    print(f"Waiting for the code to be entered (checking every {step.interval:g} s)", flush=True)


def _read_pasted_callbacks(flow: AuthCodeFlow) -> None:
    """Feed lines from stdin to the flow while the callback server keeps listening."""
    from auth.errors import AuthFlowError

    loop = asyncio.get_running_loop()

    def paste(line: str) -> None:
        try:
            flow.submit_callback(line)
        except AuthFlowError as exc:
            print(f"aiproxyapi: that URL was not accepted: {exc}", file=sys.stderr, flush=True)

    def read() -> None:
        # A daemon thread: a blocking readline must never keep the process alive.
        for raw in sys.stdin:
            if raw.strip():
                try:
                    loop.call_soon_threadsafe(paste, raw.strip())
                except RuntimeError:  # the loop is gone: the login is over
                    return

    threading.Thread(target=read, name="login-paste", daemon=True).start()
