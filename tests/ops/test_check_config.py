"""`aiproxyapi check-config FILE`: a summary and exit 0, or the key path and line and exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.configs import gateway_config, openai_entry


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiproxyapi", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("{port}", "8400").replace("{auth_dir}", str(tmp_path / "a")))
    return path


def test_a_valid_config_gets_a_summary(tmp_path: Path) -> None:
    entry = openai_entry("up", "http://127.0.0.1:9/v1", ["sk-a", "sk-b"], ["m1", "m2"])
    result = check(write(tmp_path, gateway_config(entry)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    assert "2 credential(s), 2 model(s), 1 client key(s)" in result.stdout
    assert "http://127.0.0.1:8400" in result.stdout
    assert "sk-a" not in result.stdout


def test_a_bad_value_names_the_line_and_key(tmp_path: Path) -> None:
    result = check(write(tmp_path, "port: 1\nrequest-retry: many\n"))
    assert result.returncode == 1
    assert "config.yaml:2: request-retry: expected int" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_nested_error_names_the_key_path(tmp_path: Path) -> None:
    text = "openai-compatibility:\n  - name: a\n    base-url: ftp://x\n"
    result = check(write(tmp_path, text))
    assert result.returncode == 1
    assert "config.yaml:3: openai-compatibility[0].base-url" in result.stderr


def test_unsafe_access_is_reported(tmp_path: Path) -> None:
    result = check(write(tmp_path, 'host: ""\nport: 1\n'))
    assert result.returncode == 1
    assert "api-keys is empty" in result.stderr


def test_missing_tls_files_are_reported(tmp_path: Path) -> None:
    text = f"host: 127.0.0.1\nport: 1\ntls:\n  enable: true\n  cert: {tmp_path}/none.pem\n  key: {tmp_path}/k.pem\n"
    result = check(write(tmp_path, text))
    assert result.returncode == 1
    assert "tls.cert: no readable file" in result.stderr


def test_tls_without_a_key_is_a_config_error(tmp_path: Path) -> None:
    result = check(write(tmp_path, "tls:\n  enable: true\n  cert: c.pem\n"))
    assert result.returncode == 1
    assert "tls" in result.stderr
    assert "are both required" in result.stderr


def test_unsupported_keys_warn_but_pass(tmp_path: Path) -> None:
    result = check(write(tmp_path, "host: 127.0.0.1\nport: 1\npprof:\n  enable: true\n"))
    assert result.returncode == 0
    assert "warning: " in result.stderr
    assert "1 warning(s)" in result.stdout


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    result = check(tmp_path / "absent.yaml")
    assert result.returncode == 1
    assert "cannot read the file" in result.stderr
