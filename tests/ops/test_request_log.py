"""request-log files (redacted, one per request), error logs, the logs/ size cap, JSON log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory

pytestmark = pytest.mark.e2e

UPSTREAM_KEY = "sk-upstream-reqlog-3e9a1c"
BODY = {"model": "m1", "messages": [{"role": "user", "content": "the marker phrase"}]}


def wait_files(
    directory: Path, pattern: str, predicate: Callable[[list[Path]], bool]
) -> list[Path]:
    deadline = time.monotonic() + 15
    files: list[Path] = []
    while time.monotonic() < deadline:
        files = sorted(directory.glob(pattern)) if directory.is_dir() else []
        if predicate(files):
            return files
        time.sleep(0.05)
    return files


@pytest.mark.invariant(4)
def test_request_log_writes_one_redacted_file_per_request(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, [UPSTREAM_KEY])
    gateway = gateway_factory(gateway_config(entry, **{"request-log": True}))
    url = f"{gateway.base_url}/v1/chat/completions"
    headers = {"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY, "x-trace": "t1"}
    assert httpx.post(url, json=BODY, headers=headers, timeout=10).status_code == 200
    with httpx.stream(
        "POST", url, json={**BODY, "stream": True}, headers=headers, timeout=10
    ) as streamed:
        assert "[DONE]" in streamed.read().decode()
    # The key in the query string authenticates as well, and must not be logged either.
    assert httpx.post(f"{url}?key={CLIENT_KEY}", json=BODY, timeout=10).status_code == 200
    logs = gateway.tmp_path / "logs"
    files = wait_files(logs, "v1-chat-completions-*.log", lambda f: len(f) == 3)
    assert len(files) == 3, gateway.log_text()
    texts = [f.read_text() for f in files]
    for path, text in zip(files, texts, strict=True):
        assert path.stat().st_mode & 0o777 == 0o600
        assert CLIENT_KEY not in text
        assert UPSTREAM_KEY not in text
        assert "the marker phrase" in text
        assert "status: 200" in text
    assert "authorization: [redacted]" in texts[0]
    assert "x-api-key: [redacted]" in texts[0]
    assert "x-trace: t1" in texts[0]
    assert any("data: [DONE]" in text for text in texts)
    assert any("key=%5Bredacted%5D" in text for text in texts)
    assert any("hello from key" in text for text in texts)


def test_failures_are_kept_as_error_logs_up_to_the_limit(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, [UPSTREAM_KEY])
    gateway = gateway_factory(gateway_config(entry, **{"error-logs-max-files": 3}))
    url = f"{gateway.base_url}/v1/chat/completions"
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    assert httpx.post(url, json=BODY, headers=headers, timeout=10).status_code == 200
    for n in range(6):
        bad = {"model": "m1", "messages": f"not a list {n}"}
        assert httpx.post(url, json=bad, headers=headers, timeout=10).status_code == 400
        time.sleep(0.02)  # distinct modification times, so "oldest" is well defined
    logs = gateway.tmp_path / "logs"
    files = wait_files(logs, "error-*.log", lambda f: len(f) == 3 and "list 5" in f[-1].read_text())
    names = sorted(logs.iterdir())
    assert len(files) == 3, names
    assert all(path.name.startswith("error-") for path in names)
    texts = " ".join(path.read_text() for path in files)
    assert "not a list 5" in texts
    assert "not a list 0" not in texts
    assert CLIENT_KEY not in texts
    assert "status: 400" in texts


def test_logs_stay_within_their_total_size(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, [UPSTREAM_KEY])
    settings = {"request-log": True, "logs-max-total-size-mb": 1}
    gateway = gateway_factory(gateway_config(entry, **settings))
    url = f"{gateway.base_url}/v1/chat/completions"
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    padding = "x" * 300_000
    for n in range(8):
        body = {"model": "m1", "messages": [{"role": "user", "content": f"{n} {padding}"}]}
        assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 200
    logs = gateway.tmp_path / "logs"
    time.sleep(1.0)  # the last file is written off the event loop
    files = wait_files(logs, "*.log", lambda f: len(f) >= 1)
    total = sum(path.stat().st_size for path in logs.iterdir())
    assert 0 < total <= 1024 * 1024
    assert len(files) < 8
    assert any(f"7 {padding[:50]}" in path.read_text() for path in files)


def test_json_log_format(fake_upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    entry = openai_entry("up", fake_upstream.base_url, [UPSTREAM_KEY])
    gateway = gateway_factory(gateway_config(entry, **{"log-format": "json"}))
    httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json=BODY,
        headers={"authorization": "Bearer wrong-key-0000"},
        timeout=10,
    )
    lines = [line for line in gateway.stderr_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert entries
    for entry_ in entries:
        assert set(entry_) >= {"time", "level", "logger", "request_id", "message"}
    assert any("aiproxyapi serving on" in e["message"] for e in entries)
    assert all(UPSTREAM_KEY not in line and CLIENT_KEY not in line for line in lines)
