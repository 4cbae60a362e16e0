"""Lifecycle of the real process: SIGTERM drains streams and exits 0; SIGHUP reloads, dropping nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e

HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}
BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
WORDS = " ".join(f"w{i}" for i in range(12))


class StreamReader(threading.Thread):
    """Reads one chat stream to its end; records the text, the last data line and any error."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.started = threading.Event()
        self.lines: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream(
                "POST",
                f"{self.base_url}/v1/chat/completions",
                json={**BODY, "stream": True},
                headers=HEADERS,
                timeout=60,
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.lines.append(line)
                        self.started.set()
        except BaseException as exc:  # the assertion reports it
            self.error = exc
        finally:
            self.started.set()

    @property
    def text(self) -> str:
        parts = []
        for line in self.lines[:-1]:
            for choice in json.loads(line[6:]).get("choices", []):
                parts.append(choice["delta"].get("content") or "")
        return "".join(parts)


def refused(base_url: str) -> bool:
    try:
        httpx.get(f"{base_url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


def wait_exit(gateway: GatewayProcess, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.returncode is not None:
            return gateway.returncode
        time.sleep(0.05)
    return None


def test_sigterm_lets_active_streams_finish_then_exits_zero(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok(WORDS, chunk_delay=0.25)
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry, **{"usage-statistics-enabled": True}))
    readers = [StreamReader(gateway.base_url) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        assert reader.started.wait(20)
    assert gateway.pid is not None
    signal_at = time.monotonic()
    os.kill(gateway.pid, signal.SIGTERM)
    # While the streams drain, the listener is gone: new connections are refused.
    seen_refused = False
    while time.monotonic() - signal_at < 10 and gateway.returncode is None:
        if refused(gateway.base_url):
            seen_refused = True
            break
        time.sleep(0.05)
    assert seen_refused
    assert any(reader.is_alive() for reader in readers), "the check must happen mid-drain"
    for reader in readers:
        reader.join(30)
        assert reader.error is None, reader.error
        assert reader.lines[-1] == "data: [DONE]"
        assert reader.text == WORDS
    assert wait_exit(gateway, 30) == 0, gateway.log_text()
    # Usage of the drained streams was saved on the way out.
    saved = Path(gateway.auth_dir) / "usage" / "usage-statistics.json"
    assert saved.is_file()
    assert saved.read_text().count("POST /v1/chat/completions") >= 1
    assert "draining: 4 request(s) in flight" in gateway.log_text()


def test_the_drain_timeout_cuts_what_is_left_and_still_exits_zero(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok(" ".join(["slow"] * 200), chunk_delay=0.2)
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry, **{"shutdown-timeout-seconds": 1}))
    reader = StreamReader(gateway.base_url)
    reader.start()
    assert reader.started.wait(20)
    assert gateway.pid is not None
    os.kill(gateway.pid, signal.SIGTERM)
    assert wait_exit(gateway, 30) == 0, gateway.log_text()
    reader.join(10)
    assert reader.lines[-1:] != ["data: [DONE]"]
    assert fake_upstream.requests[0].wait_disconnected(10)


def metric(base_url: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.invariant(6)
def test_many_sighup_reloads_drop_no_request(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok(WORDS, chunk_delay=0.02)
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a", "sk-b"])
    gateway = gateway_factory(gateway_config(entry))
    stop = threading.Event()
    failures: list[str] = []
    done = [0]

    def client(stream: bool) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    if stream:
                        with http.stream(
                            "POST",
                            f"{gateway.base_url}/v1/chat/completions",
                            json={**BODY, "stream": True},
                            headers=HEADERS,
                        ) as response:
                            lines = [x for x in response.iter_lines() if x.startswith("data: ")]
                        ok = response.status_code == 200 and lines[-1] == "data: [DONE]"
                    else:
                        response = http.post(
                            f"{gateway.base_url}/v1/chat/completions", json=BODY, headers=HEADERS
                        )
                        ok = response.status_code == 200
                    if not ok:
                        failures.append(f"status {response.status_code}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                done[0] += 1

    workers = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(4)]
    for worker in workers:
        worker.start()
    assert gateway.pid is not None
    reloads = 20
    for round_ in range(reloads):
        # Each round changes the file (a client key more or less) and signals the process.
        keys = [CLIENT_KEY] + ([f"sk-client-extra-{round_:04d}"] if round_ % 2 == 0 else [])
        gateway.rewrite_config(gateway_config(entry, api_keys=keys))
        os.kill(gateway.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (
            metric(gateway.base_url, "aiproxyapi_config_reloads_total", result="success")
            < round_ + 1
        ):
            assert time.monotonic() < deadline, gateway.log_text()
            time.sleep(0.05)
    stop.set()
    for worker in workers:
        worker.join(60)
    assert failures == []
    assert done[0] >= reloads
    assert metric(gateway.base_url, "aiproxyapi_config_reloads_total", result="success") == reloads
    assert metric(gateway.base_url, "aiproxyapi_config_generation") == reloads + 1
