"""Login flows independent of who drives them (the CLI now, the management API later).

A flow is started, shows the user one step, and finishes on its own:

* :class:`AuthCodeFlow` (PKCE): ``start()`` -> :class:`BrowserStep` (authorize URL + state) and a
  local callback server; the redirect, or a pasted callback URL (``submit_callback`` /
  ``complete``), ends it. ``state`` is checked; no callback within ``timeout`` (5 min) fails it.
* :class:`DeviceFlow`: ``start()`` -> :class:`DeviceStep` (code + verification URL); it polls at
  the server's interval, honouring ``authorization_pending`` / ``slow_down`` / ``expired_token`` /
  ``access_denied``, and reports each poll through ``progress``.

Either way ``status`` is ``wait`` until the record is written (``ok``, ``result`` set) or the flow
failed (``error``, ``reason`` says what went wrong and what to do); ``wait()`` returns the
:class:`LoginResult` or raises :class:`AuthFlowError`; ``cancel()`` stops it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from auth._oauth import Pkce, TokenError, new_state, seconds
from auth.callback import CallbackServer
from auth.endpoints import CLIENTS
from auth.errors import AuthFlowError
from auth.records import LoginResult, save_record
from storage import Store

__all__ = [
    "AuthCodeFlow",
    "BrowserStep",
    "DeviceFlow",
    "DeviceStep",
    "FlowStatus",
    "LoginFlow",
    "Progress",
    "SlowDown",
    "device_outcome",
]

log = logging.getLogger("auth.flow")

#: Receives one line of progress for the person waiting.
Progress = Callable[[str], None]

LOGIN_TIMEOUT = 300.0
DEVICE_MAX_WAIT = 900.0
# RFC 8628 §3.5: without a new interval in the answer, slow_down adds five seconds.
_SLOW_DOWN_STEP = 5.0


class FlowStatus(StrEnum):
    """Where a flow is: waiting for the user, done, or failed."""

    WAIT = "wait"
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class BrowserStep:
    """What the user must open: the authorize URL; the callback goes to ``redirect_uri``."""

    url: str
    state: str
    redirect_uri: str
    callback_port: int


@dataclass(frozen=True)
class DeviceStep:
    """What the user must enter where: the code, the page, and how often the flow polls."""

    verification_url: str
    user_code: str
    interval: float
    expires_in: float
    verification_url_complete: str | None = None


class SlowDown(Exception):
    """The device-token endpoint asked for a longer poll interval (None: add five seconds)."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__("slow_down")
        self.interval = interval


def device_outcome(exc: TokenError) -> None:
    """Map an RFC 8628 poll error: pending -> None, slow_down -> SlowDown, the rest fail."""
    if exc.error == "authorization_pending":
        return
    if exc.error == "slow_down":
        raise SlowDown(seconds(exc.body.get("interval"), 0.0) or None)
    if exc.error == "expired_token":
        raise AuthFlowError("the code expired before it was entered; run the login again")
    if exc.error == "access_denied":
        raise AuthFlowError("the authorization was denied; run the login again and approve it")
    raise AuthFlowError(f"{exc.message}; run the login again")


class LoginFlow(abc.ABC):
    """One login attempt; see the module docstring for its life cycle."""

    provider: ClassVar[str]
    label: ClassVar[str]

    def __init__(
        self, *, client: httpx.AsyncClient, store: Store, progress: Progress | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.progress: Progress = progress or (lambda _line: None)
        self.status = FlowStatus.WAIT
        self.reason: str | None = None
        self.result: LoginResult | None = None
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def start(self) -> BrowserStep | DeviceStep:
        """Begin the flow: what the user must do next."""

    async def wait(self) -> LoginResult:
        """Block until the flow ends: its result, or AuthFlowError with the reason."""
        if self._task is None:
            raise AuthFlowError(self.reason or "the login was not started")
        await asyncio.wait({self._task})  # the caller's own cancellation still propagates
        if self.result is not None:
            return self.result
        raise AuthFlowError(self.reason or "the login did not finish")

    async def cancel(self) -> None:
        """Stop the flow; its status becomes ``error`` with reason "cancelled"."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._cleanup()  # a task cancelled before its first step never ran its finally
        if self.status is FlowStatus.WAIT:
            self._fail("the login was cancelled")

    def _fail(self, reason: str) -> None:
        self.status = FlowStatus.ERROR
        self.reason = reason

    def _launch(self, body: Callable[[], Coroutine[Any, Any, LoginResult]]) -> None:
        self._task = asyncio.create_task(self._run(body), name=f"login-{self.provider}")

    async def _run(self, body: Callable[[], Coroutine[Any, Any, LoginResult]]) -> None:
        try:
            result = await body()
            where = await save_record(self.store, result.name, result.record)
        except asyncio.CancelledError:
            self._fail("the login was cancelled")
            raise
        except AuthFlowError as exc:
            self._fail(str(exc))
        except TokenError as exc:
            self._fail(f"{exc.message}; run the login again")
        except httpx.HTTPError as exc:
            self._fail(
                f"could not reach {self.label} ({type(exc).__name__}); check the network "
                "(and proxy settings) and run the login again"
            )
        except Exception as exc:
            # An answer of a shape no provider documents; the traceback goes to debug logs only.
            log.debug("login %s failed", self.provider, exc_info=True)
            self._fail(
                f"{self.label} answered in an unexpected way ({type(exc).__name__}); "
                "run the login again, and report it if it keeps happening"
            )
        else:
            self.result = replace(result, where=where)
            self.status = FlowStatus.OK
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:  # noqa: B027 - optional hook
        """Release what the flow holds (the callback server)."""


class AuthCodeFlow(LoginFlow):
    """Authorization code with PKCE and a local callback server."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        store: Store,
        progress: Progress | None = None,
        callback_port: int | None = None,
        timeout: float = LOGIN_TIMEOUT,
    ) -> None:
        super().__init__(client=client, store=store, progress=progress)
        registered = CLIENTS[self.provider]
        self.callback_port = (
            callback_port if callback_port is not None else registered.callback_port
        )
        self.callback_path = registered.callback_path
        self.timeout = timeout
        self.pkce = Pkce.new()
        self.state = new_state()
        self._code: asyncio.Future[str] | None = None
        self._server: CallbackServer | None = None

    @property
    def redirect_uri(self) -> str:
        """Where the provider sends the browser back to."""
        return f"http://localhost:{self.callback_port}{self.callback_path}"

    @abc.abstractmethod
    def authorization_url(self) -> str:
        """The provider's authorize URL for this attempt (state and PKCE challenge included)."""

    @abc.abstractmethod
    async def exchange(self, code: str) -> LoginResult:
        """Trade the code for tokens and build the record."""

    async def start(self, *, listen: bool = True) -> BrowserStep:
        """Open the callback server (unless ``listen`` is false) and return the authorize URL."""
        if self._code is not None:
            raise AuthFlowError("this login was already started")
        if listen:
            self._server = CallbackServer(self.callback_port or 0, self.callback_path, self._accept)
            try:
                await self._server.start()
            except AuthFlowError as exc:
                self._fail(str(exc))
                raise
            self.callback_port = self._server.port
        self._code = asyncio.get_running_loop().create_future()
        step = BrowserStep(
            self.authorization_url(), self.state, self.redirect_uri, self.callback_port or 0
        )
        self._launch(self._drive)
        return step

    def submit_callback(self, callback_url: str) -> None:
        """Hand over the URL the browser was redirected to; AuthFlowError if it is refused."""
        problem = self._accept(callback_url.strip())
        if problem is not None:
            raise AuthFlowError(problem)

    async def complete(self, callback_url: str) -> LoginResult:
        """:meth:`submit_callback`, then :meth:`wait`."""
        self.submit_callback(callback_url)
        return await self.wait()

    def _accept(self, callback_url: str) -> str | None:
        code = self._code
        if code is None or code.done():
            return "this login is not waiting for a callback (start a new one)"
        if "?" not in callback_url and "#" in callback_url:
            # What Claude's code page shows to copy: "<code>#<state>".
            pasted_code, _, pasted_state = callback_url.partition("#")
            callback_url = f"{self.redirect_uri}?" + urlencode(
                {"code": pasted_code, "state": pasted_state}
            )
        params = {k: v[-1] for k, v in parse_qs(urlsplit(callback_url).query).items()}
        if params.get("state") != self.state:
            problem = (
                "the callback's state does not match this login (a stale or foreign link); "
                "run the login again"
            )
            code.set_exception(AuthFlowError(problem))
            self._fail(problem)
            return problem
        if "error" in params:
            detail = params.get("error_description") or params["error"]
            problem = f"the authorization was refused ({detail[:200]}); run the login again"
            code.set_exception(AuthFlowError(problem))
            self._fail(problem)
            return problem
        from authlib.oauth2.base import OAuth2Error
        from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

        try:
            parsed = parse_authorization_code_response(callback_url, state=self.state)
        except OAuth2Error:  # no code in it
            return "the callback URL carries no authorization code; paste the whole URL"
        value = str(parsed["code"]).split("#", 1)[0]  # Claude appends "#state" to its code
        code.set_result(value)
        return None

    async def _drive(self) -> LoginResult:
        assert self._code is not None
        try:
            async with asyncio.timeout(self.timeout):
                code = await self._code
        except TimeoutError:
            raise AuthFlowError(
                f"no callback arrived within {self.timeout / 60:g} minutes; run the login "
                "again (on a remote host: forward the callback port, or paste the callback URL)"
            ) from None
        finally:
            await self._cleanup()
        self.progress("exchanging the authorization code for tokens")
        return await self.exchange(code)

    async def _cleanup(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None


class DeviceFlow(LoginFlow):
    """Device authorization (RFC 8628 and its provider variants)."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        store: Store,
        progress: Progress | None = None,
        max_wait: float = DEVICE_MAX_WAIT,
    ) -> None:
        super().__init__(client=client, store=store, progress=progress)
        self.max_wait = max_wait
        self.step: DeviceStep | None = None

    @abc.abstractmethod
    async def request_code(self) -> DeviceStep:
        """Ask the provider for a device code."""

    @abc.abstractmethod
    async def poll(self) -> dict[str, Any] | None:
        """One poll: the token answer, None while pending; SlowDown or AuthFlowError."""

    @abc.abstractmethod
    async def finish(self, tokens: dict[str, Any]) -> LoginResult:
        """Build the record from the token answer."""

    async def start(self) -> DeviceStep:
        """Request the code and start polling in the background."""
        if self.step is not None:
            raise AuthFlowError("this login was already started")
        try:
            self.step = await self.request_code()
        except TokenError as exc:
            self._fail(f"{exc.message}; run the login again")
            raise AuthFlowError(self.reason or "") from None
        except AuthFlowError as exc:
            self._fail(str(exc))
            raise
        except httpx.HTTPError as exc:
            self._fail(f"could not reach {self.label} ({type(exc).__name__}); check the network")
            raise AuthFlowError(self.reason or "") from None
        step = self.step
        self._launch(lambda: self._poll_until_done(step))
        return self.step

    async def _poll_until_done(self, step: DeviceStep) -> LoginResult:
        interval = max(step.interval, 0.0)
        limit = min(step.expires_in, self.max_wait) if step.expires_in > 0 else self.max_wait
        deadline = time.monotonic() + limit
        polls = 0
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() > deadline:
                raise AuthFlowError("the code expired before it was entered; run the login again")
            polls += 1
            try:
                tokens = await self.poll()
            except SlowDown as slow:
                interval = (
                    slow.interval if slow.interval is not None else interval + _SLOW_DOWN_STEP
                )
                self.progress(f"the server asked to poll less often: every {interval:g} s")
                continue
            except TokenError as exc:
                if exc.status is not None:
                    raise
                self.progress("network trouble while polling; trying again")
                continue
            if tokens is None:
                self.progress(f"waiting for the code to be entered (poll {polls})")
                continue
            self.progress("authorized; reading the account")
            return await self.finish(tokens)
