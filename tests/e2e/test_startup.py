"""Start-up: the embedded default, and configs that would expose the gateway are refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


def run_once(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "aiproxyapi", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_placeholder_keys_are_refused(tmp_path: Path) -> None:
    result = run_once(tmp_path, "port: 0\napi-keys: [your-api-key-1, real-key-1234]\n")
    assert result.returncode == 2
    assert "your-api-key-1" in result.stderr
    assert "placeholder" in result.stderr


def test_open_gateway_on_all_interfaces_is_refused(tmp_path: Path) -> None:
    result = run_once(tmp_path, 'host: ""\nport: 0\n')
    assert result.returncode == 2
    assert "api-keys is empty" in result.stderr


def test_config_error_names_path_and_line(tmp_path: Path) -> None:
    result = run_once(tmp_path, "port: 1\nrequest-retry: many\n")
    assert result.returncode == 2
    assert "config.yaml:2" in result.stderr
    assert "request-retry" in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aiproxyapi", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("aiproxyapi ")


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def test_embedded_default_when_there_is_no_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # No --config and no ./config.yaml: the embedded default serves on 127.0.0.1:8317.
    process = subprocess.Popen(
        [sys.executable, "-m", "aiproxyapi"],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_healthy("http://127.0.0.1:8317/healthz", process), "the default did not start"
        assert httpx.get("http://127.0.0.1:8317/v1/models").json() == {"object": "list", "data": []}
        assert httpx.get("http://127.0.0.1:8317/").json()["name"] == "aiproxyapi"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "no config file found" in output
    assert "config.example.yaml" in output
