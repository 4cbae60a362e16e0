"""Run the real gateway as a subprocess for end-to-end tests.

::

    with GatewayProcess(CONFIG, tmp_path=tmp_path) as gw:
        httpx.get(f"{gw.base_url}/v1/models", headers=...)

The config text may use ``{port}`` (a free port picked here), ``{auth_dir}`` (``tmp_path/auths``)
and ``{tmp_path}``; they are plain string replacements, so YAML braces elsewhere are safe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

__all__ = ["GatewayError", "GatewayProcess", "free_port"]

_POLL_INTERVAL = 0.05


class GatewayError(RuntimeError):
    """The gateway process did not come up (or did not go down); the message carries its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class GatewayProcess:
    """One gateway subprocess with its config, auth dir and captured output under tmp_path."""

    def __init__(
        self,
        config_text: str,
        *,
        tmp_path: Path,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        module: str = "aiproxyapi",
        startup_timeout: float = 30.0,
        health_path: str = "/healthz",
        tls_ca: Path | None = None,
    ) -> None:
        self.tmp_path = Path(tmp_path)
        self.port = port or free_port()
        self.auth_dir = self.tmp_path / "auths"
        self.config_path = self.tmp_path / "config.yaml"
        self.stdout_path = self.tmp_path / "gateway.stdout.log"
        self.stderr_path = self.tmp_path / "gateway.stderr.log"
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})
        self.module = module
        self.startup_timeout = startup_timeout
        self.health_path = health_path
        self.tls_ca = tls_ca
        """With a CA file the gateway is reached over HTTPS, trusting that CA only."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        self.rewrite_config(config_text)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls_ca``)."""
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def render(self, text: str) -> str:
        """The config text with the placeholders filled in."""
        return (
            text.replace("{port}", str(self.port))
            .replace("{auth_dir}", str(self.auth_dir))
            .replace("{tmp_path}", str(self.tmp_path))
        )

    def rewrite_config(self, text: str) -> None:
        """Replace config.yaml atomically (temp file + os.replace), placeholders filled in."""
        tmp = self.config_path.with_name(f".{self.config_path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.render(text), encoding="utf-8")
        os.replace(tmp, self.config_path)

    def start(self) -> GatewayProcess:
        """Launch the process and wait until the health endpoint answers 200; returns self."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        self._close_logs()
        # Upstream fakes live on loopback: never let an inherited proxy setting intercept them.
        loopback = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **loopback, **self.env}
        cmd = [sys.executable, "-m", self.module, "--config", str(self.config_path)]
        stdout = self.stdout_path.open("ab")
        stderr = self.stderr_path.open("ab")
        self._logs = [stdout, stderr]
        self._proc = subprocess.Popen(
            [*cmd, *self.extra_args],
            cwd=self.tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # terminal signals meant for pytest don't reach it
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}{self.health_path}"
        last = "no answer"
        verify: ssl.SSLContext | bool = True
        if self.tls_ca is not None:
            verify = ssl.create_default_context(cafile=str(self.tls_ca))
        with httpx.Client(timeout=1.0, trust_env=False, verify=verify) as client:
            while time.monotonic() < deadline:
                code = self._proc.poll()
                if code is not None:
                    raise GatewayError(
                        f"gateway exited with {code} during startup\n{self.log_text()}"
                    )
                try:
                    response = client.get(url)
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                time.sleep(_POLL_INTERVAL)
        raise GatewayError(
            f"gateway not healthy at {url} within {self.startup_timeout} s ({last})\n"
            f"{self.log_text()}"
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to timeout, then SIGKILL; returns the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5.0)
        self._close_logs()
        return proc.returncode

    def restart(self) -> GatewayProcess:
        """stop() then start() on the same port and config."""
        self.stop()
        return self.start()

    def log_text(self) -> str:
        """Captured stdout and stderr plus every file under tmp_path/logs."""
        for handle in self._logs:
            with contextlib.suppress(ValueError):
                handle.flush()
        parts: list[str] = []
        files = [self.stdout_path, self.stderr_path]
        logs_dir = self.tmp_path / "logs"
        if logs_dir.is_dir():
            files += sorted(p for p in logs_dir.rglob("*") if p.is_file())
        for path in files:
            if path.is_file():
                text = path.read_bytes().decode("utf-8", errors="replace")
                parts.append(f"----- {path.name} -----\n{text}")
        return "\n".join(parts)

    def _close_logs(self) -> None:
        for handle in self._logs:
            handle.close()
        self._logs = []

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
