"""Embedding: `aiproxyapi.create_app` and `aiproxyapi.serve` in-process, with the openai SDK."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn

import aiproxyapi
from aiproxyapi.config import ConfigError, parse_config
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import free_port
from tests.support.sdk_clients import tracked

# Building the app in this process meets the Gemini routes' inferred path parameters, which
# Litestar deprecates; the subprocess tests never see the warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*declared using deprecated inferred style:DeprecationWarning"
)


def wait_up(url: str, timeout: float = 60, errors: list[BaseException] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not errors:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered: {errors!r}")


def config_text(upstream: FakeUpstream, tmp_path: Path, port: int) -> str:
    text = gateway_config(openai_entry("up", upstream.base_url, ["sk-a"]))
    return text.replace("{port}", str(port)).replace("{auth_dir}", str(tmp_path / "auths"))


def chat(port: int) -> str | None:
    client = tracked(openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=CLIENT_KEY))
    answer = client.chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "hi"}]
    )
    return answer.choices[0].message.content


def test_serve_runs_in_a_thread_and_stops_on_request(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    port = free_port()
    stop = threading.Event()
    codes: list[int] = []
    errors: list[BaseException] = []
    text = config_text(fake_upstream, tmp_path, port)

    def run() -> None:
        try:
            codes.append(aiproxyapi.serve(text, stop=stop))
        except BaseException as exc:
            errors.append(exc)

    server = threading.Thread(target=run, daemon=True)
    server.start()
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", errors=errors)
        assert chat(port) == "hello from key sk-a"
    finally:
        stop.set()
        server.join(60)
    assert errors == []
    assert codes == [0]
    assert not server.is_alive()


def test_create_app_under_an_asgi_server_of_ones_own(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    port = free_port()
    config = parse_config(config_text(fake_upstream, tmp_path, port)).config
    app = aiproxyapi.create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        assert chat(port) == "hello from key sk-a"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "aiproxyapi_requests_total" in metrics
    finally:
        server.should_exit = True
        thread.join(60)
    assert not thread.is_alive()


def test_a_config_file_path_is_loaded(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(fake_upstream, tmp_path, free_port()))
    app = aiproxyapi.create_app(path)
    assert app.gateway.config_path == path.absolute()
    assert [c.provider for c in app.gateway.runtime.credentials] == ["up"]


def test_bad_yaml_text_raises_a_config_error() -> None:
    with pytest.raises(ConfigError, match="request-retry"):
        aiproxyapi.create_app("request-retry: many\n")
