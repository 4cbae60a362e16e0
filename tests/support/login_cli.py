"""Run a login command of the real CLI as a subprocess and talk to it like a person would.

::

    with LoginProcess(["--claude-login", "--no-browser"], tmp_path=tmp_path, env=fake.env()) as cli:
        url = cli.wait_for_line(lambda line: line.startswith("http"))
        fake.browser(url)
        assert cli.finish() == 0

The config written to ``tmp_path/config.yaml`` sets ``auth-dir`` to ``tmp_path/auths``
(:attr:`LoginProcess.auth_dir`). Every line of stdout is kept; stderr is read at the end.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["LoginProcess"]


class LoginProcess:
    """``python -m aiproxyapi --config ... <args>`` with piped stdin, stdout and stderr."""

    def __init__(
        self, args: Sequence[str], *, tmp_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.auth_dir = tmp_path / "auths"
        self.config_path = tmp_path / "config.yaml"
        self.config_path.write_text(f'auth-dir: "{self.auth_dir}"\n')
        environment = {
            k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")
        }
        environment.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiproxyapi", "--config", str(self.config_path), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._errors: list[str] = []
        self._pump = threading.Thread(target=self._read_stdout, daemon=True)
        self._pump.start()
        self._err_pump = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_pump.start()
        self.stderr = ""

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._errors.append(line)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        """The first stdout line matching predicate; AssertionError with the output if none."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if predicate(line):
                return line
        self.finish(timeout=5)
        raise AssertionError(f"no matching line; stdout={self.lines!r} stderr={self.stderr!r}")

    def paste(self, text: str) -> None:
        """Type a line into the command's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the exit; collects the rest of stdout and all of stderr; the exit code."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._pump.join(5)
        self._err_pump.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        self.stderr = "".join(self._errors)
        return self.proc.returncode

    @property
    def stdout(self) -> str:
        """Everything read from stdout so far."""
        return "\n".join(self.lines)

    def __enter__(self) -> LoginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish(timeout=5)
