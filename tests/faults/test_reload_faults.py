"""F14: config rewritten under streaming load the three ways editors write it.

Valid versions go live within 2 s and are never applied half-written; broken versions (bad
YAML, a schema error, an empty file) are rejected with a log line and a metric while the old
config keeps serving; no in-flight request fails (reliability.md §3.2 F14).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.profile import runs
from tests.support.configs import CLIENT_KEY
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}


def version_text(upstream: FakeUpstream, n: int) -> tuple[str, str]:
    """Config version n as (head, tail): the head alone is a valid config without the alias."""
    head = (
        "port: {port}\nauth-dir: {auth_dir}\nhost: 127.0.0.1\n"
        f"api-keys:\n  - {CLIENT_KEY}\n  - sk-client-version-{n:04d}\n"
        "openai-compatibility:\n  - name: up\n"
        f"    base-url: {upstream.base_url}\n"
        "    api-key-entries:\n      - api-key: sk-a\n      - api-key: sk-b\n"
        "    models:\n      - name: m1\n"
    )
    tail = f"      - name: m1\n        alias: m-{n:04d}\n"
    return head, tail


BROKEN = ["api-keys: [unclosed\n", "port: {port}\nunknown-key: 1\n", ""]


def in_place(path: Path, head: str, tail: str) -> None:
    """Overwrite the bytes of the existing file (same inode), then cut what is left."""
    with path.open("r+", encoding="utf-8") as handle:
        handle.write(head)
        handle.flush()
        time.sleep(0.02)
        handle.write(tail)
        handle.truncate()


def truncate_then_write(path: Path, head: str, tail: str) -> None:
    """Empty the file first, then write it in two pieces with a pause between them."""
    with path.open("w", encoding="utf-8") as handle:
        handle.flush()
        time.sleep(0.02)
        handle.write(head)
        handle.flush()
        time.sleep(0.02)
        handle.write(tail)


def rename_swap(path: Path, head: str, tail: str) -> None:
    """Write a sibling file and rename it over the config (vim's and most IDEs' way)."""
    tmp = path.with_name(f"{path.name}.swp~")
    tmp.write_text(head + tail, encoding="utf-8")
    os.replace(tmp, path)


WRITERS: list[Callable[[Path, str, str], None]] = [in_place, truncate_then_write, rename_swap]


def metric(base_url: str, name: str, result: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("result") == result:
                return sample.value
    return 0.0


def probe(base_url: str, n: int) -> int:
    body = {"model": f"m-{n:04d}", "messages": [{"role": "user", "content": "hi"}]}
    key = f"sk-client-version-{n:04d}"
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    ).status_code


@pytest.mark.invariant(6, 7)
@pytest.mark.timeout(runs(120, 900))
def test_editor_style_rewrites_under_load_apply_whole_or_not_at_all(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("one two three four five six", chunk_delay=0.03)
    head, tail = version_text(fake_upstream, 0)
    gateway = gateway_factory(head + tail)
    path = gateway.config_path
    stop = threading.Event()
    failures: list[str] = []
    half_applied: list[int] = []
    served = [0]
    current = [0]

    def load(stream: bool) -> None:
        body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        with httpx.Client(timeout=30, headers=HEADERS) as http:
            while not stop.is_set():
                try:
                    answer = http.post(f"{gateway.base_url}/v1/chat/completions", json=body)
                    if answer.status_code != 200:
                        failures.append(f"status {answer.status_code}")
                    elif stream and not answer.text.rstrip().endswith("data: [DONE]"):
                        failures.append("stream cut")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                served[0] += 1

    def watch_halves() -> None:
        # The new key accepted while the new alias is unknown would be a half-applied file.
        while not stop.is_set():
            n = current[0]
            if probe(gateway.base_url, n) not in (200, 401):
                half_applied.append(n)
            time.sleep(0.01)

    threads = [threading.Thread(target=load, args=(i % 2 == 0,)) for i in range(3)]
    threads.append(threading.Thread(target=watch_halves))
    for thread in threads:
        thread.start()
    total = runs(15, 100)
    valid = 0
    try:
        for step in range(1, total + 1):
            write = WRITERS[step % len(WRITERS)]
            if step % 5 == 0:  # one in five is broken, as in the doc's 80/20
                rejected = metric(gateway.base_url, "aiproxyapi_config_reloads_total", "failure")
                write(path, gateway.render(BROKEN[(step // 5) % len(BROKEN)]), "")
                deadline = time.monotonic() + 5
                while (
                    metric(gateway.base_url, "aiproxyapi_config_reloads_total", "failure")
                    <= rejected
                ):
                    assert time.monotonic() < deadline, gateway.log_text()
                    time.sleep(0.05)
                # The old version keeps serving, whole.
                assert probe(gateway.base_url, valid) == 200
                continue
            valid = current[0] = step  # probed from now on: 401 until live, 200 after
            head, tail = version_text(fake_upstream, valid)
            write(path, gateway.render(head), tail)
            started = time.monotonic()
            while probe(gateway.base_url, valid) != 200:
                assert time.monotonic() - started < 2.0, (write.__name__, gateway.log_text())
                time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert half_applied == []
    assert served[0] > total
    assert "reload rejected" in gateway.log_text()
