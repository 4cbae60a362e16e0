"""The gateway harness, exercised against a tiny stand-in server module (the gateway is elsewhere)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayError, GatewayProcess, free_port

pytest_plugins = ["tests.support.fixtures"]

# Reads `port:` from --config, answers /healthz and /config, exits 0 on SIGTERM.
STAND_IN = """
import http.server, re, signal, sys
config = sys.argv[sys.argv.index("--config") + 1]
text = open(config).read()
print("stand-in started with", sys.argv[1:], flush=True)
if "fail-now" in text:
    sys.exit("stand-in refuses this config")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(config, "rb").read() if self.path == "/config" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

port = int(re.search(r"port: (\\d+)", text).group(1))
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

CONFIG = "host: 127.0.0.1\nport: {port}\nauth-dir: {auth_dir}\nmap: {a: 1}\n"


@pytest.fixture
def stand_in(tmp_path: Path) -> str:
    (tmp_path / "standin_gateway.py").write_text(STAND_IN)
    return "standin_gateway"


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_lifecycle(tmp_path: Path, stand_in: str) -> None:
    gateway = GatewayProcess(CONFIG, tmp_path=tmp_path, module=stand_in, extra_args=["--x"])
    assert gateway.config_path == tmp_path / "config.yaml"
    assert gateway.config_path.read_text() == (
        f"host: 127.0.0.1\nport: {gateway.port}\nauth-dir: {tmp_path / 'auths'}\nmap: {{a: 1}}\n"
    )
    assert (tmp_path / "auths").is_dir()
    with gateway:
        assert gateway.base_url == f"http://127.0.0.1:{gateway.port}"
        assert httpx.get(f"{gateway.base_url}/healthz", timeout=5).text == "ok"
        gateway.rewrite_config(CONFIG + "changed: true\n")
        assert "changed: true" in httpx.get(f"{gateway.base_url}/config", timeout=5).text
        first_pid = gateway.pid
        gateway.restart()
        assert gateway.pid != first_pid
        assert httpx.get(f"{gateway.base_url}/healthz", timeout=5).status_code == 200
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "main.log").write_text("a line from the log dir\n")
        log = gateway.log_text()
    assert gateway.returncode == 0
    assert log.count("stand-in started with ['--config',") == 2
    assert "'--x'" in log
    assert "a line from the log dir" in log
    assert list(tmp_path.glob(".config.yaml.*")) == []


def test_process_that_dies_fails_with_its_log(tmp_path: Path, stand_in: str) -> None:
    gateway = GatewayProcess("port: {port}\nfail-now: 1\n", tmp_path=tmp_path, module=stand_in)
    with pytest.raises(GatewayError, match=r"(?s)exited with 1.*stand-in refuses this config"):
        gateway.start()


def test_unhealthy_process_times_out_and_is_stopped(tmp_path: Path, stand_in: str) -> None:
    # The stand-in listens on another port than the harness polls.
    gateway = GatewayProcess(
        f"port: {free_port()}\n", tmp_path=tmp_path, module=stand_in, startup_timeout=1.0
    )
    with pytest.raises(GatewayError, match="not healthy"):
        gateway.start()
    assert gateway.returncode is not None


def test_gateway_factory_stops_everything(gateway_factory: GatewayFactory, stand_in: str) -> None:
    first = gateway_factory(CONFIG, module=stand_in)
    # The second one lives in a subdirectory, so its module must be findable from there too.
    (first.tmp_path / "gateway-2").mkdir()
    (first.tmp_path / "gateway-2" / f"{stand_in}.py").write_text(STAND_IN)
    second = gateway_factory(CONFIG, module=stand_in)
    assert second.config_path == first.tmp_path / "gateway-2" / "config.yaml"
    assert first.port != second.port
    for gateway in (first, second):
        assert httpx.get(f"{gateway.base_url}/healthz", timeout=5).status_code == 200
